// Unprivileged, memoryMax is RLIMIT_DATA, which counts every private writable mapping: Node's
// thread stacks, malloc's arenas, V8's heap. Replicas under that bound must start and serve on a
// loaded machine (they once crashed at start: "Fatal process out of memory", SIGSEGV,
// std::bad_alloc), and one that allocates past memoryMax must still be stopped and replaced
// while the other functions serve on.
import t from 'tap';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { post } from '../helpers/http.js';
import { ROOT } from '../helpers/runtime.js';
import { othersCanRead, startInstance, testUser } from './helpers.js';

const FILES = {
  'victim.ts': fs.readFileSync(new URL('./fixtures/victim.ts', import.meta.url), 'utf8').replace("'../../../src/index.js'", "'faasflow'"),
  'busy.ts': fs.readFileSync(new URL('./fixtures/busy.ts', import.meta.url), 'utf8'),
};
const REPLICAS = 3;
const CONFIG = (port: number) => `export default {
  gateway: { port: ${port} },
  segment: { size: '64MiB' },
  functions: [
    { id: 1, name: 'victim', handler: './victim.ts', memoryMax: '256MiB' },
    { id: 2, name: 'busy', handler: './busy.ts', replicas: ${REPLICAS}, concurrency: 1, timeout: '60s', memoryMax: '256MiB' },
  ],
};
`;

interface Ps {
  children: { role: string; functionId: number; state: string; restarts: number; pid: number }[];
}

const unprivileged = process.getuid?.() !== 0 ? 'needs root to create the test user' : !othersCanRead(ROOT) ? `${ROOT} is not readable by other users` : false;

t.test('replicas bounded by RLIMIT_DATA start and serve under load, and a runaway is still stopped', { skip: unprivileged }, async (t) => {
  // Load: a busy loop per CPU for the whole test.
  const load = Array.from({ length: 2 }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  t.teardown(() => load.forEach((p) => p.kill('SIGKILL')));
  const inst = await startInstance(t, CONFIG, FILES, testUser());
  const up = await inst.cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);
  const ps = async () => JSON.parse((await inst.cli(['ps'], true)).stdout) as Ps;
  const busy = (s: Ps) => s.children.filter((c) => c.role === 'container' && c.functionId === 2);

  // Each replica serves thread-pool work (concurrency 1: REPLICAS × 2 requests reach every replica).
  const replies = await Promise.all(Array.from({ length: REPLICAS * 2 }, () => post(inst.port, '/function/2', 'x')));
  t.same(replies.map((r) => `${r.status} ${r.body.toString().slice(0, 200)}`), replies.map(() => `200 ${8 * (4 << 20)}`), 'every request was served');
  const after = busy(await ps());
  t.equal(after.length, REPLICAS);
  t.same(after.map((c) => `${c.state} ${c.restarts}`), after.map(() => 'ready 0'), 'every replica is ready and none was restarted');
  const quiet = await inst.cli(['logs', '--id', '2', '-n', '200']);
  t.notMatch(quiet.stdout, /out of memory|SIGSEGV|bad_alloc|allocation failed/i, 'no replica ran out of memory');

  // A handler growing its heap past memoryMax is stopped; its replica is replaced; the victim serves.
  const hog = await post(inst.port, '/function/2?what=heap', 'x');
  t.ok(hog.status >= 500, `the runaway is stopped: its request fails (${hog.status})`);
  t.equal((await post(inst.port, '/function/1', 'bystander')).body.toString(), 'bystander', 'the bystander answers');
  let s = busy(await ps());
  for (let i = 0; i < 150 && !(s.every((c) => c.state === 'ready') && s.some((c) => c.restarts > 0)); i++) {
    await new Promise((r) => setTimeout(r, 200));
    s = busy(await ps());
  }
  t.equal(s.reduce((a, c) => a + c.restarts, 0), 1, `the runaway's replica was replaced: ${JSON.stringify(s)}`);
  const again = await post(inst.port, '/function/2', 'x');
  t.equal(again.status, 200, 'the function serves again');
  const logs = await inst.cli(['logs', '--id', '2', '-n', '200']);
  t.match(logs.stdout, /heap out of memory|out of memory/i, 'the function\'s log says why the replica stopped');
});
