// gateway.admin on a real instance: /healthz, /livez and /metrics move to a loopback listener of
// their own (no token there, with gateway.auth on), the public port answers 404 for them saying
// where they went, every gateway accepts on the admin socket, and through a stop the admin
// listener keeps answering (/healthz 503, /livez 200) until the gateways exit.
import { spawnSync, execFileSync } from 'node:child_process';
import net from 'node:net';
import t from 'tap';
import { json, request, type HttpResult } from '../helpers/http.js';
import { ECHO, configText, freePort, portFree, project, psChildren, until } from './helpers.js';

const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
const get = (port: number, path: string): Promise<HttpResult> => request(port, 'GET', path, undefined, {}, { agent: false });

t.test('the admin listener serves probes and scrapes; the public port sends callers there', async (t) => {
  const p = await project(t, 'admin');
  const admin = await freePort();
  p.write('echo.ts', ECHO);
  const cfg = configText(p.port, "[{ id: 1, name: 'echo', handler: './echo.ts' }]", "  flows: [{ name: 'twice', steps: ['echo', 'echo'] }],\n");
  p.write('faasflow.config.ts', cfg.replace(`port: ${p.port} }`, `port: ${p.port}, workers: 2, auth: true, drainDelay: '2s', admin: { port: ${admin} } }`));
  t.teardown(() => p.cli(['down', '--clean-shm']));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.match(up.stdout, /GET \/healthz: ok, 1 function\(s\) routed/, "up's health check found /healthz on the admin listener");
  t.match(up.stdout, new RegExp(`admin on http://127\\.0\\.0\\.1:${admin}`), 'up says where the admin listener is');

  for (const path of ['/healthz', '/livez', '/metrics', '/healthz?verbose=1']) {
    const r = await get(p.port, path);
    t.equal(r.status, 404, `public GET ${path}: 404`);
    t.match(json(r).error, new RegExp(`served on the admin listener \\(gateway.admin\\), http://127.0.0.1:${admin}/`), 'naming where it is');
  }
  t.equal((await request(p.port, 'POST', '/function/echo', 'hi')).status, 401, 'the public port still asks for a token');

  const health = await get(admin, '/healthz');
  t.equal(health.status, 200, 'admin /healthz: 200 without a token');
  t.equal(json(health).status, 'ok');
  t.equal((await get(admin, '/livez')).status, 200, 'admin /livez: 200');
  const metrics = await get(admin, '/metrics');
  t.equal(metrics.status, 200, 'admin /metrics: 200 without a token');
  t.match(metrics.body.toString(), /faasflow_unknown_function_total/, 'the instance\'s metrics');
  if (hasPromtool) {
    t.doesNotThrow(() => execFileSync('promtool', ['check', 'metrics'], { input: metrics.body, stdio: ['pipe', 'pipe', 'pipe'] }), 'promtool check metrics passes');
  } else t.pass('promtool check metrics', { skip: 'promtool not installed (apt-get install prometheus)' });
  const fn = await request(admin, 'POST', '/function/echo', 'hi', {}, { agent: false });
  t.equal(fn.status, 404, 'the admin listener calls no function');
  t.match(json(fn).error, /serves GET \/healthz, \/livez and \/metrics/);

  // One socket, every gateway accepting on it: fresh connections reach both.
  const seen = new Set<number>();
  await until(async () => {
    seen.add(json(await get(admin, '/livez')).gateway as number);
    return seen.size === 2;
  }, 30_000, 'both gateways to answer on the admin listener');
  t.same([...seen].sort(), [0, 1], 'both gateways answer on the admin listener');

  // A gateway killed: the other answers meanwhile, and its replacement accepts on the same socket.
  const pidOf = async () => json(await get(admin, '/livez')).pid as number;
  const victim = (await psChildren(p)).find((c) => c.id === 'gateway')!.pid;
  process.kill(victim, 'SIGKILL');
  t.equal((await get(admin, '/livez')).status, 200, 'admin /livez answers while gateway 0 is replaced');
  const replacement = await until(async () => (await psChildren(p)).find((c) => c.id === 'gateway' && c.state === 'ready' && c.pid !== victim)?.pid, 30_000, 'gateway 0 to be restarted');
  await until(async () => (await pidOf()) === replacement, 30_000, 'the restarted gateway to answer on the admin listener');
  t.pass('the restarted gateway accepts on the admin listener');

  // A stop: the admin listener answers through the drain, readiness 503, liveness 200.
  const down = p.cli(['down']);
  const draining = await until(async () => {
    const h = await get(admin, '/healthz').catch(() => undefined);
    return h?.status === 503 ? h : undefined;
  }, 30_000, 'admin /healthz to say 503 during the drain');
  t.equal(json(draining!).status, 'draining', 'admin /healthz: 503 draining');
  const live = await get(admin, '/livez').catch(() => undefined);
  t.equal(live?.status, 200, 'admin /livez: 200 during the drain');
  t.equal((await down).code, 0);
  t.ok(await portFree(admin), 'the admin port is closed after down');
});

t.test('an admin port that is the public port, or taken, is refused naming gateway.admin.port', async (t) => {
  const p = await project(t, 'adminbad');
  p.write('echo.ts', ECHO);
  const fns = "[{ id: 1, name: 'echo', handler: './echo.ts' }]";
  p.write('faasflow.config.ts', configText(p.port, fns).replace(`port: ${p.port} }`, `port: ${p.port}, admin: { port: ${p.port} } }`));
  const same = await p.cli(['up']);
  t.equal(same.code, 1);
  t.match(same.stderr, /gateway\.admin\.port: is gateway\.port \(\d+\) too: give the admin listener a port of its own/);

  const taken = await freePort();
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  p.write('faasflow.config.ts', configText(p.port, fns).replace(`port: ${p.port} }`, `port: ${p.port}, admin: { port: ${taken} } }`));
  t.teardown(() => p.cli(['down', '--clean-shm']));
  const busy = await p.cli(['up']);
  t.equal(busy.code, 1);
  t.match(busy.stderr, new RegExp(`admin listener \\(gateway.admin\\) did not start: port ${taken} on 127.0.0.1 is already in use.*gateway\\.admin\\.port`));
  t.same(p.processes(), [], 'the failed start left no process');
});
