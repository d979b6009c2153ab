import t from 'tap';
import { startRuntime, startedMarks, until } from '../helpers/runtime.js';
import { post } from '../helpers/http.js';

t.test('two functions × two replicas: requests spread over the replicas of each function', async (t) => {
  const rt = await startRuntime(t, [
    { id: 1, handler: 'test/runtime/fixtures/whoami.ts', replicas: 2, concurrency: 4 },
    { id: 2, handler: 'test/runtime/fixtures/whoami.ts', replicas: 2, concurrency: 4 },
  ]);
  for (const fn of [1, 2]) {
    const pids = new Map<string, number>();
    const rs = await Promise.all(Array.from({ length: 40 }, () => post(rt.port, `/function/${fn}?ms=5`, 'x')));
    for (const r of rs) pids.set(r.body.toString(), (pids.get(r.body.toString()) ?? 0) + 1);
    const expected = rt.containers.filter((c) => c.functionId === fn).map((c) => String(c.pid)).sort();
    t.same([...pids.keys()].sort(), expected, `function ${fn} ran on both of its replicas`);
    for (const [pid, n] of pids) t.ok(n >= 10, `replica ${pid} got a fair share (${n} of 40)`);
  }
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
});

t.test('a replica killed with SIGKILL under load: its in-flight requests get 502, all others succeed, the pool empties', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/whoami.ts', replicas: 2, concurrency: 4 }]);
  const victim = rt.containers[0];
  const marks = startedMarks(t);
  const all = Array.from({ length: 60 }, (_, i) => post(rt.port, i < 8 ? `/function/1?ms=400&${marks.query}` : '/function/1?ms=20', 'payload'));
  // The eight slow ones fill both replicas (four each): the victim dies with work in hand.
  await marks.running(8);
  victim.child.kill('SIGKILL');
  await new Promise((r) => victim.child.once('exit', r));
  // What the supervisor does for a dead child.
  rt.seg.pool.reclaim(victim.pid);
  const rs = await Promise.all(all);
  const byStatus = new Map<number, number>();
  for (const r of rs) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  t.same([...byStatus.keys()].sort(), [200, 502], `only 200 and 502: ${JSON.stringify([...byStatus])}`);
  t.ok((byStatus.get(502) ?? 0) <= 4, 'at most the victim\'s in-flight requests (its concurrency) failed');
  for (const r of rs.filter((x) => x.status === 502)) t.match(JSON.parse(r.body.toString()).error, new RegExp(`pid ${victim.pid}\\) exited`));
  const after = await post(rt.port, '/function/1', 'x');
  t.equal(after.status, 200, 'the surviving replica keeps serving');
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
  t.equal(rt.inUse(), 0);
});
