// A function whose every replica breaks its channel as it starts is given up on like a crash loop
// (issue 18, part 1): one line per replica says why, its requests get 503, the others are served.
import fs from 'node:fs';
import t from 'tap';
import { asRootAndUnprivileged, hostileRun, ps, until } from './harness.js';
import { functionLog } from './ipc.js';

const HOSTILE = fs.readFileSync(new URL('./fixtures/channel.ts', import.meta.url), 'utf8');

asRootAndUnprivileged(t, 'a function that keeps sending bad messages is given up on', (t, user) =>
  hostileRun(t, { hostile: HOSTILE, configFields: 'supervisor: { maxRestarts: 2 }' }, async (h) => {
    const [first] = h.before.hostilePids;
    // From now on every replica of the function writes the bytes as it starts.
    await h.poke({ what: 'loop' });
    t.ok(await until(async () => (await ps(h.inst)).children.find((c) => c.functionId === 2)?.state === 'failed'), 'the function is given up on');
    const log = (await h.inst.cli(['logs', '--id', '2', '-n', '1000'])).stdout;
    t.match(log, /GIVING UP: sent a bad message \(a message of 4 bytes that is not UTF-8 JSON\)/, 'the log says why');
    t.equal(functionLog(h, first).filter((l) => l.includes('sent a bad message')).length, 1, 'one line for the first replica');
    t.equal((await h.poke({ what: 'send' })).status, 503, 'its requests get 503 at once');
  }, user));
