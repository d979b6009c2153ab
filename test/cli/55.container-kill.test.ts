// A container killed with SIGKILL under load: restarted by the supervisor (with the restart counted
// in ps), its packets reclaimed, the pool back to 0 in use; only its in-flight requests fail.
import http from 'node:http';
import t from 'tap';
import { Segment, domainSegmentName } from '../../src/shm/index.js';
import { post } from '../helpers/http.js';
import { configText, project, psChildren, until } from './helpers.js';

// Copies its input into an output packet of its own, then waits 20 ms; a request saying "hold"
// waits until it is cancelled instead. The load alone does not keep a container holding packets
// at every moment (its clients answer in step: between two rounds each container holds none, and
// a kill there found nothing to reclaim in 3 of 10 runs), so a held request makes sure the
// killed container owns a packet when it dies.
const HOLDER = `import type { Context } from 'faasflow';
export default async function (input: Uint8Array, ctx: Context) {
  const out = ctx.output(input.length);
  out.bytes.set(input);
  const hold = new TextDecoder().decode(input) === 'hold';
  await new Promise((r) => (hold ? ctx.signal.addEventListener('abort', r) : setTimeout(r, 20)));
  return out.end(input.length);
}
`;

/** POSTs "hold" on a connection of its own; aborting it cancels the handler. Resolves with the status (0: aborted or failed). */
function hold(port: number, signal: AbortSignal): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/function/1', agent: false, signal }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end('hold');
  });
}

t.test('kill -9 of a replica under load: restarted, packets reclaimed, the rest served', async (t) => {
  const p = await project(t, 'kill');
  p.write('holder.ts', HOLDER);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './holder.ts', replicas: 2 }]"));
  t.equal((await p.cli(['up'])).code, 0);
  // The function's packets are in its domain's segment (named for the function: 'holder').
  const seg = Segment.open(domainSegmentName(p.instance, 'holder'), false);
  t.teardown(() => seg.close());
  const replicas = (await psChildren(p)).filter((c) => c.functionId === 1);
  // One held request per replica (least outstanding first); the victim is a replica holding one.
  const holds = replicas.map(() => new AbortController());
  t.teardown(() => holds.forEach((h) => h.abort()));
  const held = holds.map((h) => hold(p.port, h.signal));
  const holding = () => new Set(seg.pool.held().map((h) => h.owner));
  const victim = (await until(() => replicas.find((c) => holding().has(c.pid)), 10_000, 'a replica to hold the packet of a held request'))!;

  const statuses = new Map<number, number>();
  let running = true;
  const body = Buffer.alloc(32 << 10, 1);
  const worker = async () => {
    while (running) {
      const r = await post(p.port, '/function/1', body).catch(() => ({ status: 0, body: Buffer.alloc(0) }));
      const status = r.status === 200 && !r.body.equals(body) ? -1 : r.status;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  const load = Array.from({ length: 8 }, worker);
  await new Promise((r) => setTimeout(r, 500));
  t.ok(holding().has(victim.pid), 'the victim holds a packet as it is killed');
  process.kill(victim.pid, 'SIGKILL');
  const replaced = await until(async () => (await psChildren(p)).find((c) => c.id === victim.id && c.pid !== victim.pid && c.state === 'ready'), 30_000, 'the replica to be restarted');
  t.equal(replaced?.restarts, 1, 'ps counts the restart');
  await new Promise((r) => setTimeout(r, 500));
  running = false;
  await Promise.all(load);
  holds.forEach((h) => h.abort());
  await Promise.all(held);

  const ok = statuses.get(200) ?? 0;
  const other = [...statuses.entries()].filter(([s]) => s !== 200);
  t.ok(ok > 100, `requests kept succeeding (${ok})`);
  t.ok(other.every(([s, n]) => s === 502 && n <= 16), `only the killed replica's in-flight requests failed, with 502: ${JSON.stringify(other)}`);
  await until(() => seg.pool.inUse() === 0, 10_000, 'every packet to be freed or reclaimed');
  t.pass('the pool is back to 0 packets in use');
  const logs = await p.cli(['logs', '--id', '1']);
  const line = new RegExp(`${victim.id.replace(/\./g, '\\.')}\\[${victim.pid}\\] killed by SIGKILL; restart 1/5 in \\d+ ms; reclaimed (\\d+) packet\\(s\\)`).exec(logs.stdout);
  t.ok(line, `one log line says how it ended, what happens next and what was reclaimed:\n${logs.stdout.split('\n').filter((l) => l.includes(String(victim.pid))).join('\n')}`);
  t.ok(line && Number(line[1]) >= 1, 'the supervisor reclaimed the packets the killed container held');
  t.equal((await p.cli(['down'])).code, 0);
});
