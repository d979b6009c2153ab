import t from 'tap';
import http from 'node:http';
import { startRuntime, until } from '../helpers/runtime.js';
import { post } from '../helpers/http.js';

t.test('switching a function to a new deployment under load fails no request', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts', replicas: 2, concurrency: 4 }]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  t.teardown(() => agent.destroy());
  let stop = false;
  const statuses = new Map<number, number>();
  const bodies: string[] = [];
  const load = Array.from({ length: 16 }, async () => {
    for (let i = 0; !stop && i < 5000; i++) {
      const r = await post(rt.port, '/function/1', `req-${i}`);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      bodies.push(r.body.toString());
    }
  });
  await new Promise((r) => setTimeout(r, 200));
  // What `deploy` does: start the new replicas, wait until ready, switch, drain the old ones.
  const fresh = [await rt.startContainer(1, 0, 2, 'functions/uppercase.ts'), await rt.startContainer(1, 1, 2, 'functions/uppercase.ts')];
  await rt.setRoutes([{ id: 1, name: 'fn1', deployment: 2, timeoutMs: 5000 }]);
  await Promise.all(rt.containers.map((c) => rt.stop(c)));
  t.ok(rt.containers.every((c) => c.child.exitCode === 0), 'old replicas drained and exited 0');
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  await Promise.all(load);
  t.same([...statuses.keys()], [200], `only 200s: ${JSON.stringify([...statuses])}`);
  t.ok(bodies.some((b) => b.startsWith('req-')) && bodies.some((b) => b.startsWith('REQ-')), 'both versions answered');
  const last = await post(rt.port, '/function/1', 'new');
  t.equal(last.body.toString(), 'NEW', 'the new version answers');
  t.equal(fresh.length, 2);
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
});
