// gateway.workers: several gateway processes share the port (SO_REUSEPORT), each linked to every
// container. Connections land on all of them; their stats add up to what was sent; `kill -9` of
// one under load fails only requests that one had in flight, the port never stops answering (nor
// with a single gateway: the supervisor keeps each gateway's socket open while it restarts it); a
// client that leaves is cancelled through either; each keeps its own queue limit.
import t from 'tap';
import http from 'node:http';
import { ECHO, configText, project, psChildren, until as waitFor } from './helpers.js';
import { processAlive } from '../../src/common/procs.js';
import { postFresh, request } from '../helpers/http.js';
import { until } from '../helpers/runtime.js';

t.test('two gateways share the port; killing one under load fails only its in-flight requests', async (t) => {
  const p = await project(t, 'gws');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts', replicas: 2 }]").replace('gateway: {', 'gateway: { workers: 2,'));
  t.equal((await p.cli(['up'])).code, 0);
  const gateways = (await psChildren(p)).filter((c) => c.role === 'gateway');
  t.equal(gateways.length, 2, 'two gateway processes');

  // Which gateway answers: /healthz names its pid. New connections are spread over both.
  const seen = new Set<number>();
  for (let i = 0; i < 200 && seen.size < 2; i++) {
    const h = await request(p.port, 'GET', '/healthz', undefined, {}, { agent: false });
    seen.add((JSON.parse(h.body.toString()) as { pid: number }).pid);
  }
  t.same([...seen].sort(), gateways.map((g) => g.pid).sort(), 'both gateways accept connections on the one port');

  let ok = 0;
  for (let i = 0; i < 100; i++) if ((await postFresh(p.port, '/function/1', `n${i}`)).body === `n${i}`) ok++;
  t.equal(ok, 100, 'every request answered byte-exact');
  const metrics = (await request(p.port, 'GET', '/metrics')).body.toString();
  const total = Number(/^faasflow_requests_total\{function="1"[^}]*\} (\d+)/m.exec(metrics)?.[1]);
  t.equal(total, 100, 'the function counters of both gateways add up to the requests sent');

  // Load over fresh connections while one gateway is killed. Each request records whether it was
  // sent before the victim was gone with all its threads. What fails is what the victim had
  // accepted: a connection queued on its socket waits there for its replacement (the supervisor
  // keeps the socket open).
  const victim = gateways[0].pid;
  const { results, failed } = await killUnderLoad(p.port, victim);
  t.ok(failed.every((r) => !r.afterDeath), `only requests that reached the killed gateway failed (${failed.length} of ${results.length}, all sent before it died: ${[...new Set(failed.map((r) => r.answer))].join(', ')})`);
  t.ok(results.filter((r) => r.afterDeath).length >= 200 && results.filter((r) => r.afterDeath).every((r) => r.status === 200), 'after the kill every request is answered: the port never stopped answering');
  let back = false;
  for (let i = 0; i < 100 && !back; i++) {
    back = (await psChildren(p)).filter((c) => c.role === 'gateway' && c.state === 'ready' && c.pid !== victim).length === 2;
    if (!back) await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(back, 'the supervisor restarted the killed gateway');
  t.equal((await postFresh(p.port, '/function/1', 'still')).body, 'still');
  t.equal((await p.cli(['down'])).code, 0);
});

/**
 * Sends POSTs on fresh connections from 8 clients, kills `victim` with SIGKILL, and goes on
 * until 200 more requests have been answered after it was gone.
 */
async function killUnderLoad(port: number, victim: number) {
  let stop = false;
  let dead = false;
  const results: { status: number; afterDeath: boolean; answer: string }[] = [];
  const load = (async () => {
    const workers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const afterDeath = dead;
        const r = await postFresh(port, '/function/1', 'load');
        results.push({ status: r.status, afterDeath, answer: r.body });
      }
    });
    await Promise.all(workers);
  })();
  await until(() => results.length > 50, 20_000, 'load to be running');
  process.kill(victim, 'SIGKILL');
  await until(() => !processAlive(victim), 10_000, 'the killed gateway to exit');
  dead = true;
  const atDeath = results.length;
  await until(() => results.length > atDeath + 200, 30_000, 'requests after the kill');
  stop = true;
  await load;
  return { results, failed: results.filter((r) => r.status !== 200) };
}

t.test('one gateway killed under load: the port keeps accepting while it is restarted, and closes with down', async (t) => {
  const p = await project(t, 'gw1');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]").replace('gateway: {', 'gateway: { workers: 1,'));
  t.equal((await p.cli(['up'])).code, 0);
  const [gateway] = (await psChildren(p)).filter((c) => c.role === 'gateway');
  t.ok(gateway, 'one gateway process');

  const { results, failed } = await killUnderLoad(p.port, gateway.pid);
  const after = results.filter((r) => r.afterDeath);
  t.same(after.filter((r) => r.status !== 200).map((r) => r.answer), [], `none of the ${after.length} requests sent after it died failed: they waited for the new gateway, none was refused`);
  t.ok(failed.every((r) => !/ECONNREFUSED/.test(r.answer)), `the ${failed.length} that failed were the dead gateway's own connections, not refused ones: ${[...new Set(failed.map((r) => r.answer))].join(', ')}`);
  const now = await waitFor(async () => (await psChildren(p)).find((c) => c.role === 'gateway' && c.state === 'ready' && c.pid !== gateway.pid), 30_000, 'the restarted gateway in ps');
  t.equal(now?.restarts, 1, 'the supervisor restarted it');

  t.equal((await p.cli(['down'])).code, 0);
  const refused = await postFresh(p.port, '/function/1', 'after down');
  t.match(refused.body, /ECONNREFUSED/, 'after down nothing holds the port open: a connection is refused');
});

const WAITS = `import type { Context } from 'faasflow';
export default async function (input: Uint8Array, ctx: Context): Promise<string> {
  const tag = new TextDecoder().decode(input);
  ctx.log.info(\`started \${tag}\`);
  await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
  ctx.log.info(\`aborted \${tag}\`);
  return 'too late';
}
`;

t.test('two gateways: a client that leaves cancels its handler through whichever gateway it reached', async (t) => {
  const p = await project(t, 'gwc');
  p.write('waits.ts', WAITS);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './waits.ts', concurrency: 16 }]").replace('gateway: {', 'gateway: { workers: 2,'));
  t.equal((await p.cli(['up'])).code, 0);
  // Request ids are numbered per gateway (gateway i of n hands out i+1, i+1+n, …): the id says
  // which gateway took the request. Fresh connections until both have taken some.
  const logs = async () => (await p.cli(['logs', '-n', '500', '--id', '1'])).stdout;
  const byGateway = new Set<number>();
  for (let i = 0; i < 40 && byGateway.size < 2; i++) {
    const tag = `c${i}`;
    const req = http.request({ port: p.port, path: '/function/1', method: 'POST', agent: false }, (res) => res.resume());
    req.on('error', () => undefined);
    req.end(tag);
    const line = await waitFor(async () => (await logs()).split('\n').find((l) => l.includes(`started ${tag}`)), 10_000, `request ${tag} to start`);
    // The handler's log line carries its request id (ctx.log adds "req").
    const id = Number(/"req":(\d+)/.exec(line ?? '')?.[1] ?? 0);
    req.destroy();
    await waitFor(async () => (await logs()).includes(`aborted ${tag}`), 10_000, `request ${tag}'s handler to see ctx.signal abort`);
    if (id) byGateway.add(id % 2);
  }
  t.equal(byGateway.size, 2, 'requests taken by both gateways were cancelled when their client left');
  t.equal((await p.cli(['down'])).code, 0);
});

const SLOW = "export default async function (): Promise<string> {\n  await new Promise((r) => setTimeout(r, 1500));\n  return 'done';\n}\n";

t.test('two gateways: each keeps its own queue limit, and refuses past it with 503', async (t) => {
  const p = await project(t, 'gwq');
  p.write('slow.ts', SLOW);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './slow.ts', concurrency: 1 }]", '  proxy: { queueLimit: 2 },\n').replace('gateway: {', 'gateway: { workers: 2,'));
  t.equal((await p.cli(['up'])).code, 0);
  // 24 at once on fresh connections: each gateway sends one to the replica (its concurrency is
  // per gateway) and queues two; everything else is refused at once.
  const results = await Promise.all(Array.from({ length: 24 }, () => request(p.port, 'POST', '/function/1', 'x', {}, { agent: false })));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 503);
  t.equal(ok.length + refused.length, results.length, 'every request answered 200 or 503');
  t.ok(refused.every((r) => r.headers['retry-after'] === '1' && /requests queued/.test(r.body.toString())), 'refusals say the queue is full, with Retry-After');
  const byGateway = [0, 1].map((g) => ok.filter((r) => Number(r.headers['x-request-id']) % 2 === (g + 1) % 2).length);
  t.ok(byGateway.every((n) => n <= 3), `no gateway took more than 1 + queueLimit (${byGateway.join(' and ')})`);
  t.ok(ok.length >= 3, `at least one gateway's worth was served (${ok.length})`);
  t.equal((await p.cli(['down'])).code, 0);
});
