// kill -9 of the supervisor: its children follow it (their IPC channel closes), and the next `up`
// reports the stale instance and recovers it; or `down --clean-shm` cleans it. Nothing leaks: the
// domain segments (memfds) go with the processes that held them, the runtime segment is removed.
import t, { type Test } from 'tap';
import { Segment } from '../../src/shm/index.js';
import { memfdMappers } from '../helpers/segments.js';
import { ECHO, V2, alive, configText, portFree, project, until, type Project } from './helpers.js';

async function upAndKill(t: Test, tag: string, before?: (p: Project) => Promise<void>) {
  const p = await project(t, tag);
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]"));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  await before?.(p);
  // This test writes to the segment too, as a live user would: a `down --clean-shm` running in
  // parallel (another test file) must then leave it alone, so only this instance's own recovery
  // removes it. (A test runner's leak sweep on a shared development machine may still take it:
  // the reports below expect what was still there.)
  const user = Segment.open(p.segment, true);
  t.teardown(() => user.close());
  const domains = Segment.ofInstance(p.instance).filter((e) => e.memfd).map((e) => e.name);
  t.ok(domains.length > 0, `its domain segments: ${domains.join(', ')}`);
  const procs = p.processes();
  const sup = p.supervisorPid()!;
  process.kill(sup, 'SIGKILL');
  await until(() => alive(procs).length === 0, 15_000, 'the children to exit after their supervisor died');
  t.same(domains.flatMap(memfdMappers), [], 'with the processes that held them gone, no process maps a domain segment: each went with its last holder');
  return { p, sup, domains, leftBehind: Segment.exists(p.segment) };
}

t.test('after kill -9 of the supervisor, `up` reports the stale instance and recovers, deployments included', async (t) => {
  const { p, sup, leftBehind } = await upAndKill(t, 'stup', async (p) => {
    p.write('v2.ts', V2);
    t.equal((await p.cli(['deploy', './v2.ts', '--id', '1'])).code, 0);
  });
  const ps = await p.cli(['ps']);
  t.equal(ps.code, 1);
  t.match(ps.stderr, new RegExp(`is stale: supervisor pid ${sup} is no longer running`));
  const up = await p.cli(['up'], { json: true });
  t.equal(up.code, 0, up.stderr);
  const r = JSON.parse(up.stdout) as { recovered: { segments: string[]; files: string[] } };
  t.equal(r.recovered.segments.includes(p.segment), leftBehind, 'the stale runtime segment was removed before a new one was made');
  t.ok(r.recovered.segments.every((s) => s === p.segment || s.startsWith(`${p.segment}@`)), `and its domain segments, nothing else: ${r.recovered.segments.join(', ')}`);
  t.ok(r.recovered.files.some((f) => f.endsWith('state.json')), 'and the stale control files');
  t.equal((await p.cli(['invoke', '1', '--data', 'back'])).stdout, 'v2:back', 'the deployed version survived the crash');
  const down = await p.cli(['down']);
  t.equal(down.code, 0, down.stderr);
  t.notOk(Segment.exists(p.segment));
  t.same(Segment.ofInstance(p.instance), [], 'no domain segment is left either');
  t.same(p.processes(), []);
});

t.test('after kill -9 of the supervisor, `down --clean-shm` cleans up and says what it removed', async (t) => {
  const { p, domains, leftBehind } = await upAndKill(t, 'stdn');
  const down = await p.cli(['down', '--clean-shm'], { json: true });
  t.equal(down.code, 0, down.stderr);
  const r = JSON.parse(down.stdout) as { was: string; segments: string[]; files: string[] };
  t.equal(r.was, 'stale');
  t.equal(r.segments.includes(p.segment), leftBehind);
  t.same(r.segments.filter((s) => s !== p.segment), domains, 'and names the domain segments that went with its processes');
  const text = await p.cli(['down']);
  t.match(text.stdout, /not running/, 'a second down finds nothing');
  t.ok(r.files.some((f) => f.endsWith('state.json')));
  t.notOk(Segment.exists(p.segment));
  t.same(Segment.ofInstance(p.instance), [], 'no domain segment is left either');
  t.same(p.processes(), []);
  t.ok(await portFree(p.port));
});
