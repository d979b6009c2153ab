// Elastic functions on real processes (supervisor, gateway, sandboxed containers): a function at
// zero answers its first request; under load it scales up and never runs more than `max`
// processes; a scale-down under load fails nothing; idle takes it back to min (zero).
import t, { type Test } from 'tap';
import { post, request } from '../helpers/http.js';
import { ProcessTable, Segment } from '../../src/shm/index.js';
import { configText, project, until, type Project } from '../cli/helpers.js';

/** Answers its pid after 100 ms: each replica is told apart, and a few clients keep several busy. */
const SLOW_PID = 'export default async function (): Promise<string> {\n  await new Promise((r) => setTimeout(r, 100));\n  return String(process.pid);\n}\n';

/** The function's container processes now, from the runtime segment's process table (as `top` reads it). */
function containers(p: Project): { pid: number; state: string }[] {
  const seg = Segment.open(p.segment, false);
  try {
    return new ProcessTable(seg).entries().filter((e) => e.role === 'container' && e.functionId === 1).map((e) => ({ pid: e.pid, state: e.state }));
  } finally {
    seg.close();
  }
}

async function elastic(t: Test, tag: string, scale = "{ min: 0, max: 3, target: 2, idle: '1s' }"): Promise<Project> {
  const p = await project(t, tag);
  p.write('slow.ts', SLOW_PID);
  p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, handler: './slow.ts', concurrency: 2, scale: ${scale} }]`));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down']));
  return p;
}

t.test('a function at zero: no process while idle, healthy, and its first request is answered', async (t) => {
  // No warm spare (30.spares.test.ts has those): the replica is a process started for the request.
  // Idle 2 s: `ps` below must find it before it idles away, however slow the CLI is on a busy machine.
  const p = await elastic(t, 'zero', "{ min: 0, max: 3, target: 2, idle: '2s', spares: 0 }");
  t.same(containers(p), [], 'no container at start (min 0)');
  t.equal((await request(p.port, 'GET', '/healthz')).status, 200, '/healthz: a function that scales to zero is ready with no replica');
  const first = await post(p.port, '/function/1', 'x');
  t.equal(first.status, 200, first.body.toString());
  t.match(first.body.toString(), /^\d+$/, 'answered by a replica started for it');
  t.equal(containers(p).length, 1, 'one replica for one request');
  const ps = JSON.parse((await p.cli(['ps'], { json: true })).stdout) as { functions: { id: number; ready: number; desired: number; scale: unknown }[] };
  t.match(ps.functions[0], { id: 1, ready: 1, desired: 1, scale: { min: 0, max: 3, target: 2, idleMs: 2000, spares: 0 } }, 'ps: ready and desired replicas, and the range');
  await until(() => containers(p).length === 0, 15_000, 'idle for 2 s: back to zero');
  const logs = await p.cli(['logs', '--id', '1', '-n', '50']);
  t.match(logs.stdout, /scaling up 0 → 1 replica\(s\): 1 request\(s\) waiting at zero/);
  t.match(logs.stdout, /scaling down 1 → 0 replica\(s\): idle for 2000 ms/);
});

t.test('under load: up to max and never past it; down under load fails nothing; idle: back to min', async (t) => {
  const p = await elastic(t, 'load');
  const statuses = new Map<number, number>();
  let clients = 12;
  let errors = 0;
  let most = 0;
  const worker = async (i: number) => {
    while (i < clients) {
      try {
        const r = await post(p.port, '/function/1', 'x');
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      } catch {
        errors++;
      }
    }
  };
  const watch = setInterval(() => (most = Math.max(most, containers(p).length)), 20);
  t.teardown(() => clearInterval(watch));
  const load = Array.from({ length: 12 }, (_, i) => worker(i));
  // 12 in flight at target 2 asks for 6: max is 3.
  await until(() => containers(p).filter((c) => c.state === 'ready').length === 3, 20_000, '3 ready replicas');
  await new Promise((r) => setTimeout(r, 1500));
  // 3 clients now: 2 replicas carry them; the third drains while requests keep coming.
  clients = 3;
  await until(() => containers(p).length === 2, 20_000, 'a scale-down to 2 under load');
  await new Promise((r) => setTimeout(r, 500));
  clients = 0;
  await Promise.all(load);
  clearInterval(watch);
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t.ok(total > 100, `the load kept coming (${total} requests)`);
  t.same([...statuses.keys()], [200], `only 200s through scale-up and scale-down: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.equal(errors, 0, 'no connection errors');
  t.equal(most, 3, 'never more than max (3) container processes, draining ones included');
  await until(() => containers(p).length === 0, 15_000, 'idle: back to min (0)');
  const m = await request(p.port, 'GET', '/metrics');
  t.match(m.body.toString(), /faasflow_replicas\{function="1",name="slow"\} 0/);
  t.match(m.body.toString(), /faasflow_replicas_desired\{function="1",name="slow"\} 0/);
});
