// A redeploy while a load generator runs fails no request: new replicas are ready before routing
// switches, and the old ones finish what they hold before they exit. The same with two gateways
// sharing the port: each is told of the new replicas and drains from the old ones on its own.
import t from 'tap';
import { post } from '../helpers/http.js';
import { ECHO, V2, configText, project } from './helpers.js';

for (const workers of [1, 2]) t.test(`redeploying under load with ${workers} gateway${workers > 1 ? 's' : ''}: 0 non-2xx responses, and the new version takes over`, async (t) => {
  const p = await project(t, `load${workers}`);
  p.write('echo.ts', ECHO);
  p.write('v2.ts', V2);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts', replicas: 2 }]").replace('gateway: {', `gateway: { workers: ${workers},`));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);

  const statuses = new Map<number, number>();
  const bodies = new Set<string>();
  let errors = 0;
  let running = true;
  const worker = async () => {
    while (running) {
      try {
        const r = await post(p.port, '/function/1', 'hello');
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        bodies.add(r.body.toString());
      } catch {
        errors++;
      }
    }
  };
  const load = Array.from({ length: 8 }, worker);
  await new Promise((r) => setTimeout(r, 500));
  for (const file of ['./v2.ts', './echo.ts']) {
    const started = Date.now();
    const dep = await p.cli(['deploy', file, '--id', '1']);
    t.equal(dep.code, 0, dep.stderr);
    t.comment(`deploy ${file} took ${Date.now() - started} ms`);
  }
  await new Promise((r) => setTimeout(r, 500));
  running = false;
  await Promise.all(load);

  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t.ok(total > 200, `the load generator kept sending (${total} requests)`);
  t.same([...statuses.keys()], [200], `only 200s: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.equal(errors, 0, 'no connection errors');
  t.same([...bodies].sort(), ['hello', 'v2:hello'], 'both versions answered, nothing else');
  t.equal((await post(p.port, '/function/1', 'end')).body.toString(), 'end', 'the last deployment (echo again) answers');
  const down = await p.cli(['down']);
  t.equal(down.code, 0, down.stderr);
});
