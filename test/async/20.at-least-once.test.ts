// At-least-once with the SQLite queue through four SIGKILLs (the run is at-least-once.ts).
import t from 'tap';
import { project } from '../cli/helpers.js';
import { N, atLeastOnce } from './at-least-once.js';

t.test(`${N} async requests through four SIGKILLs: none lost`, async (t) => {
  await atLeastOnce(t, await project(t, 'alo'));
});
