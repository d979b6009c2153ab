// At-least-once with the queue kept in NATS JetStream (a real nats-server the test starts): the
// same run as 20.at-least-once (at-least-once.ts), through the same four SIGKILLs.
import t from 'tap';
import { project } from '../cli/helpers.js';
import { N, atLeastOnce } from './at-least-once.js';
import { natsMissing, natsServer } from './nats.js';

t.test(`${N} async requests in JetStream through four SIGKILLs: none lost`, { skip: natsMissing() }, async (t) => {
  const nats = await natsServer(t);
  await atLeastOnce(t, await project(t, 'jsalo'), `{ nats: { url: '${nats.url}' } }`);
});
