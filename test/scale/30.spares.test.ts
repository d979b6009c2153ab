// Warm spares on real processes (supervisor, gateway, sandboxed containers): a function at zero
// with a spare answers its first request from the former spare's process, the pool refills (also
// after a spare dies), and `down` leaves no spare and nothing in /dev/shm.
import fs from 'node:fs';
import t from 'tap';
import { post, request } from '../helpers/http.js';
import { ProcessTable, Segment } from '../../src/shm/index.js';
import { alive, configText, project, until, type Project } from '../cli/helpers.js';

const PID = 'export default async function (): Promise<string> {\n  return String(process.pid);\n}\n';

/** The instance's processes of one role from the runtime segment's process table (as `top` and /metrics read it). */
function table(p: Project, role: 'spare' | 'container'): { pid: number; state: string; functionId: number; domainIndex: number }[] {
  const seg = Segment.open(p.segment, false);
  try {
    return new ProcessTable(seg).entries().filter((e) => e.role === role).map((e) => ({ pid: e.pid, state: e.state, functionId: e.functionId, domainIndex: e.domainIndex }));
  } finally {
    seg.close();
  }
}

interface Ps {
  children: { pid: number; role: string; functionId: number; spare?: boolean; domain?: string; state: string; memory: { privateBytes: number; pss: number } | null }[];
  spares?: { domain: string; wanted: number; warm: number; starting: number }[];
}

/** Waits for exactly one spare in the process table (other than `except`'s pid) and returns it as a one-element list. */
const oneSpare = async (p: Project, what: string, except?: number) => (await until(() => {
  const s = table(p, 'spare').filter((e) => e.pid !== except);
  return s.length === 1 ? s : undefined;
}, 15_000, what))!;

const ps = async (p: Project): Promise<Ps> => JSON.parse((await p.cli(['ps'], { json: true })).stdout) as Ps;

t.test('a function at zero answers its first request from the spare, the pool refills, down leaves nothing', async (t) => {
  const p = await project(t, 'spare');
  p.write('pid.ts', PID);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'pid', handler: './pid.ts', scale: { min: 0, max: 2, idle: '1s' } }]"));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down']));

  const [spare] = await oneSpare(p, 'one spare (the default with min 0)');
  t.same(table(p, 'container'), [], 'no replica at zero');
  await until(async () => (await ps(p)).spares?.[0]?.warm === 1, 15_000, 'the spare to be warm');
  const before = await ps(p);
  t.match(before.spares, [{ domain: 'pid', wanted: 1, warm: 1, starting: 0 }], 'ps: the domain keeps one spare, warm');
  t.match(before.children.find((c) => c.pid === spare.pid), { role: 'container', spare: true, domain: 'pid', functionId: 0 }, 'ps lists the spare with its domain');
  // What a spare costs is what the README states and bench:scale reports: ps must measure it.
  t.ok((before.children.find((c) => c.pid === spare.pid)?.memory?.privateBytes ?? 0) > 0, 'ps measures the spare\'s memory');
  const text = await p.cli(['ps']);
  t.match(text.stdout, /\(spare\)/, 'ps shows the spare in its table');
  t.match(text.stdout, /spares of domain pid: 1 warm, 0 starting \(keeps 1\)/);
  const metrics = (await request(p.port, 'GET', '/metrics')).body.toString();
  t.match(metrics, /faasflow_spares\{domain="pid"\} 1/, '/metrics: faasflow_spares per domain');

  const first = await post(p.port, '/function/1', 'x');
  t.equal(first.status, 200, first.body.toString());
  t.equal(Number(first.body.toString()), spare.pid, 'the first request is answered by the former spare\'s process');
  t.match(table(p, 'container'), [{ pid: spare.pid, functionId: 1 }], 'which is now replica 0 of function 1 in the process table');
  // The gateways are linked to an adopted spare before it reports ready (its cold start waits for
  // nothing else), so it can answer while the table still says starting: ready follows.
  await until(() => table(p, 'container').find((e) => e.pid === spare.pid && e.state === 'ready'), 15_000, 'the adopted spare to be ready in the table');

  const [refill] = await oneSpare(p, 'the pool to refill', spare.pid);
  t.not(refill.pid, spare.pid, 'a new spare took its place');
  t.equal(refill.domainIndex, spare.domainIndex, 'in the same domain');
  const logs = await p.cli(['logs', '--id', '1', '-n', '50']);
  t.match(logs.stdout, /a warm spare of domain pid \(started [\d.]+ s ago\) takes replica 0/, 'the function\'s log says a spare took the replica');

  // Back to zero, then from zero again: the refilled spare serves.
  await until(() => table(p, 'container').length === 0, 15_000, 'idle: back to zero');
  await until(async () => (await ps(p)).spares?.[0]?.warm === 1, 15_000, 'the new spare to be warm');
  const second = await post(p.port, '/function/1', 'x');
  t.equal(Number(second.body.toString()), refill.pid, 'the next cold start is served by the refilled spare');

  const pids = [...table(p, 'spare'), ...table(p, 'container')].map((e) => e.pid);
  const down = await p.cli(['down']);
  t.equal(down.code, 0, down.stderr);
  t.same(alive(pids), [], 'down leaves no spare or replica process');
  t.same(p.processes(), [], 'nor any process of the instance');
  t.same(fs.readdirSync('/dev/shm').filter((n) => n.includes(p.instance)), [], 'nor anything in /dev/shm');
});

t.test('a spare that dies unadopted is replaced', async (t) => {
  const p = await project(t, 'spare-dies');
  p.write('pid.ts', PID);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'pid', handler: './pid.ts', scale: { min: 0, max: 1, spares: 1 } }]"));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down']));
  const [spare] = await oneSpare(p, 'a spare');
  process.kill(spare.pid, 'SIGKILL');
  const [next] = await oneSpare(p, 'a replacement spare', spare.pid);
  t.ok(next.pid > 0, 'another spare started');
  await until(async () => (await ps(p)).spares?.[0]?.warm === 1, 15_000, 'the replacement to be warm');
  const r = await post(p.port, '/function/1', 'x');
  t.equal(Number(r.body.toString()), next.pid, 'and serves the next cold start');
  const log = fs.readFileSync(`${p.runtimeDir}/logs/supervisor.log`, 'utf8');
  t.match(log, /spare of domain pid killed by SIGKILL before it was needed; another in \d+ ms/, 'the supervisor log says so');
});
