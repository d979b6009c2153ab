// Bounds per function: a fork bomb and a runaway allocation in one handler are stopped by the
// kernel (the domain's cgroup as root, rlimits otherwise) before they reach the box or the other
// functions; the victim function answers byte-exact throughout and the runaway's replica is
// replaced.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import { post } from '../helpers/http.js';
import { ROOT } from '../helpers/runtime.js';
import { othersCanRead, startInstance, testUser, type User } from './helpers.js';

const FILES = {
  'victim.ts': fs.readFileSync(new URL('./fixtures/victim.ts', import.meta.url), 'utf8').replace("'../../../src/index.js'", "'faasflow'"),
  'runaway.ts': fs.readFileSync(new URL('./fixtures/runaway.ts', import.meta.url), 'utf8'),
};
const CONFIG = (port: number) => `export default {
  gateway: { port: ${port} },
  segment: { size: '128MiB' },
  functions: [
    { id: 1, name: 'victim', handler: './victim.ts' },
    { id: 2, name: 'runaway', handler: './runaway.ts', timeout: '30s', memoryMax: '256MiB', pidsMax: 64 },
  ],
};
`;

async function bounded(t: Test, user?: User): Promise<void> {
  const inst = await startInstance(t, CONFIG, FILES, user);
  t.equal((await inst.cli(['up'])).code, 0);
  const victim = async (body: string) => (await post(inst.port, '/function/1', body)).body.toString();
  t.equal(await victim('before'), 'before');

  const bomb = await post(inst.port, '/function/2?what=fork', 'x');
  t.equal(bomb.status, 200, `the fork bomb's handler reports back: ${bomb.body.toString().slice(0, 200)}`);
  const b = JSON.parse(bomb.body.toString()) as { started: number; refused: string };
  t.equal(b.refused, 'EAGAIN', 'the kernel refused more processes (EAGAIN)');
  // pidsMax × (replicas + 1). Unprivileged, RLIMIT_NPROC counts the user's every task, so the limit
  // adds what the user ran when the replica started (domains.ts) — `up` itself among them, gone
  // since: up to one pidsMax more is allowed for that.
  const most = 64 * 3 + (user ? 64 : 0);
  t.ok(b.started < 5000 && b.started <= most, `after ${b.started} (the domain may have ${most} tasks: pidsMax × (replicas + 1)${user ? ', plus what its user ran at the start' : ''})`);
  t.equal(await victim('during the bomb'), 'during the bomb', 'the victim answers');

  const hog = await post(inst.port, '/function/2?what=memory', 'x');
  t.ok(hog.status >= 500, `the runaway allocation is stopped: its request fails (${hog.status})`);
  t.equal(await victim('after the hog'), 'after the hog', 'the victim answers');
  // Its replica was killed and restarted by the supervisor; the function serves again.
  let again = await post(inst.port, '/function/2?what=none', 'x');
  for (let i = 0; i < 100 && again.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 200));
    again = await post(inst.port, '/function/2?what=fork', 'x');
  }
  t.equal(again.status, 200, 'the runaway function is back (a fresh replica)');
  // The cgroup's OOM killer ends the replica (as root); RLIMIT_DATA makes the allocation fail
  // inside it (its handler throws, the replica lives): either is in the function's log.
  const logs = await inst.cli(['logs', '--id', '2', '-n', '50']);
  t.match(logs.stdout, /killed by SIGKILL|exited with code|allocation failed|out of memory/i, 'the function\'s log says how it was stopped');
}

t.test('as root: the domain\'s cgroups (memory, pids) stop them', { skip: process.getuid?.() === 0 ? false : 'needs root' }, (t) => bounded(t));

const unprivileged = process.getuid?.() !== 0 ? 'needs root to create the test user' : !othersCanRead(ROOT) ? `${ROOT} is not readable by other users` : false;
t.test('as an unprivileged user: RLIMIT_NPROC and RLIMIT_DATA stop them', { skip: unprivileged }, (t) => bounded(t, testUser()));
