// A stop keeps the promise: requests and flows in flight run to their own deadline however short
// supervisor.shutdownTimeout is, and `down` waits for them, says what it waits for, and leaves
// nothing behind. Readiness: /healthz is 503, naming the functions without a ready replica, until
// every function has one; /livez answers 200 throughout.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ECHO, configText, loadsFor, project, until } from './helpers.js';
import { request, post } from '../helpers/http.js';
import { Segment } from '../../src/shm/segment.js';

/** Sleeps as long as its input says, then answers its input. */
const SLEEP = 'export default async function (input: Uint8Array): Promise<Uint8Array> {\n  const { ms } = JSON.parse(new TextDecoder().decode(input)) as { ms: number };\n  await new Promise((r) => setTimeout(r, ms));\n  return input;\n}\n';

/** The value of a metric line that matches `re`, from the gateway's /metrics. */
async function metric(port: number, re: RegExp): Promise<number> {
  const text = (await request(port, 'GET', '/metrics')).body.toString();
  return Number(re.exec(text)?.[1] ?? 0);
}

function logText(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile() && /\.log/.test(e.name)) out.push(fs.readFileSync(f, 'utf8'));
    }
  };
  walk(dir);
  return out.join('\n');
}

t.test('down while a request is 15 s into a 20 s function and a flow is in its second step: both answer 200', async (t) => {
  const p = await project(t, 'deadline');
  p.write('sleep.ts', SLEEP);
  p.write(
    'faasflow.config.ts',
    configText(
      p.port,
      "[{ id: 1, name: 'slow', handler: './sleep.ts', timeout: '25s' }, { id: 2, name: 'step', handler: './sleep.ts', timeout: '15s' }]",
      "  flows: [{ name: 'chain', steps: ['step', 'step'] }],\n  supervisor: { shutdownTimeout: '5s' },\n",
    ),
  );
  t.equal((await p.cli(['up'])).code, 0);
  const fn = post(p.port, '/function/slow', JSON.stringify({ ms: 20_000 }));
  const flow = post(p.port, '/flow/chain', JSON.stringify({ ms: 10_000 }));
  await until(async () => (await metric(p.port, /^faasflow_requests_in_flight\{function="1"[^}]*\} (\d+)/m)) === 1 && (await metric(p.port, /^faasflow_flow_requests_in_flight\{flow="chain"\} (\d+)/m)) === 1, 30_000, 'the function and the flow to run');
  // Well past shutdownTimeout before either is done: the function has 5 s left, the flow its
  // second step's last 5 s.
  await new Promise((r) => setTimeout(r, 15_000));
  const down = p.cli(['down']);
  const [f, fl] = await Promise.all([fn, flow]);
  t.equal(f.status, 200, 'the function answered 200, not a closed connection');
  t.equal(f.body.toString(), JSON.stringify({ ms: 20_000 }));
  t.equal(fl.status, 200, 'the flow answered 200 too');
  t.equal(fl.body.toString(), JSON.stringify({ ms: 10_000 }));
  const d = await down;
  t.equal(d.code, 0, d.stderr);
  t.match(d.stdout, /draining: waiting for requests in flight up to the longest function or flow timeout \(30 s\), then 5 s for each process to exit: at most \d+(\.\d)? s/, 'down says what it waits for');
  t.match(d.stdout, /stopped \(\d+ process\(es\)\)/);
  const logs = logText(p.runtimeDir);
  t.match(logs, /draining: waiting for/, 'the logs were read: the supervisor logged the stop');
  t.notMatch(logs, /exiting with work still in flight/, 'no process was cut short');
  t.same(p.processes(), [], 'down left no process');
  t.same(Segment.ofInstance(p.instance).filter((s) => !s.memfd && Segment.exists(s.name)), [], 'nor a segment');
});

t.test('/healthz is 503 naming the functions without a ready replica until each has one; /livez is 200 throughout', async (t) => {
  const p = await project(t, 'ready');
  p.write('echo.ts', ECHO);
  p.write('loads.ts', loadsFor(8000));
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }, { id: 2, name: 'loads', handler: './loads.ts' }]", "  supervisor: { readyTimeout: '60s' },\n"));
  const up = p.cli(['up']);
  let upDone = false;
  void up.then(() => (upDone = true));
  const answers: { health: number; live: number; notReady: string[] }[] = [];
  for (;;) {
    const health = await request(p.port, 'GET', '/healthz', undefined, {}, { agent: false }).catch(() => undefined);
    const live = await request(p.port, 'GET', '/livez', undefined, {}, { agent: false }).catch(() => undefined);
    if (health && live) {
      const doc = JSON.parse(health.body.toString()) as { notReady?: { name: string }[] };
      answers.push({ health: health.status, live: live.status, notReady: (doc.notReady ?? []).map((f) => f.name) });
      if (health.status === 200) break;
    }
    if (upDone && answers.length === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const u = await up;
  t.equal(u.code, 0, u.stderr);
  t.ok(answers.length > 1, `the gateway answered while the containers started (${answers.length} answers)`);
  const before = answers.slice(0, -1);
  t.ok(before.every((a) => a.health === 503 && a.notReady.includes('loads')), '/healthz said 503, naming the loading function, until it was ready');
  t.same(answers.at(-1)?.health, 200, 'then 200');
  t.ok(answers.every((a) => a.live === 200), '/livez said 200 at every step');
  t.match(u.stdout, /GET \/healthz: ok, 2 function\(s\) routed/);
  t.equal((await p.cli(['down'])).code, 0);
});
