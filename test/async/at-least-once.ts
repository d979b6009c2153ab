// The at-least-once run shared by 20.at-least-once (SQLite) and 26.jetstream-kills (NATS JetStream):
// async requests at a steady rate while the gateway, a container, the queue process and then the
// supervisor are SIGKILLed at different moments. Every request answered 202 runs (its id is in the
// handler's record) and has its callback: 0 lost. Duplicates are allowed only for runs that were in
// flight at a kill: at most the queue's concurrency per kill. ASYNC_KILL_N requests (default 2,000,
// what CI runs) at ASYNC_KILL_RATE per second (default 250): about ten seconds of sending. The
// issue's 10,000 is ASYNC_KILL_N=10000.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import type { Test } from 'tap';
import { configText, psChildren, until, type Project } from '../cli/helpers.js';
import { RECORDER, callbackServer, runs } from './helpers.js';

export const N = Number(process.env.ASYNC_KILL_N ?? 2000);
const RATE = Number(process.env.ASYNC_KILL_RATE ?? 250);
const CONCURRENCY = 32;

/** The run on project `p`; `store`: the config's `async.store` as source text (absent: SQLite). */
export async function atLeastOnce(t: Test, p: Project, store?: string): Promise<void> {
  const rec = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, name: 'rec', handler: './rec.ts', replicas: 2, env: { REC_FILE: ${JSON.stringify(rec)} } }]`,
    `  security: { sandbox: false },\n  gateway: { port: ${p.port}, workers: 1 },\n  supervisor: { maxRestarts: 50, backoffMin: '50ms', backoffMax: '200ms' },\n  async: { retries: 20, backoff: '50ms', backoffMax: '500ms', concurrency: ${CONCURRENCY}${store ? `, store: ${store}` : ''} },\n`).replace(`  gateway: { port: ${p.port} },\n`, ''));
  t.equal((await p.cli(['up'])).code, 0);
  if (process.env.ASYNC_KILL_LOGS) t.teardown(() => fs.cpSync(path.join(p.runtimeDir, 'logs'), process.env.ASYNC_KILL_LOGS!, { recursive: true }));
  const cb = await callbackServer(t);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  t.teardown(() => agent.destroy());

  const accepted = new Set<string>();
  let refused = 0;
  const why = new Map<string, number>();
  const note = (k: string) => why.set(k, (why.get(k) ?? 0) + 1);
  const send = (i: number) => new Promise<void>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: p.port, method: 'POST', path: '/async-function/rec?ms=5', agent, headers: { 'x-callback-url': cb.url } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 202) accepted.add(String(res.headers['x-request-id']));
        else {
          refused++;
          note(`${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 80)}`);
        }
        resolve();
      });
      res.on('error', () => (refused++, resolve()));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      refused++;
      note(err.code ?? err.message);
      resolve();
    });
    req.end(`request ${i}`);
  });
  const pidOf = async (role: string) => (await psChildren(p)).find((c) => c.role === role && c.state === 'ready')?.pid;
  const kill = (pid: number | undefined, what: string) => {
    t.ok(pid, `${what} has a pid`);
    if (pid) process.kill(pid, 'SIGKILL');
    t.comment(`SIGKILL ${what} (${pid}) after ${sent} sent, ${accepted.size} accepted`);
  };
  // The kills, at a quarter, a half, three quarters of the sending, then the supervisor at the end.
  const plan: [number, string][] = [[Math.floor(N / 4), 'gateway'], [Math.floor(N / 2), 'container'], [Math.floor((3 * N) / 4), 'queue']];
  const pids = new Map<string, number | undefined>();
  for (const [, role] of plan) pids.set(role, await pidOf(role));
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  const t0 = Date.now();
  while (sent < N) {
    // Steady: as many as the rate says by now.
    const due = Math.min(N, Math.floor(((Date.now() - t0) / 1000) * RATE) + 1);
    while (sent < due) {
      inFlight.push(send(sent++));
      const k = plan.find(([at]) => at === sent);
      if (k) kill(pids.get(k[1]), k[1]);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(inFlight);
  t.comment(`${accepted.size} accepted, ${refused} refused or cut off, in ${Date.now() - t0} ms: ${JSON.stringify([...why])}`);
  // The others were answered 503 (or cut off) while a process restarted: not accepted, the client retries.
  t.ok(accepted.size >= N / 2, 'most requests were accepted');
  kill(p.supervisorPid(), 'supervisor');
  // Its children notice it is gone and stop; `up` recovers the stale instance and the queue runs what is left.
  await until(() => p.processes().length === 0, 30_000, 'the instance to stop without its supervisor');
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);

  const ranIds = () => new Set(runs(rec).map(([id]) => id));
  await until(() => [...accepted].every((id) => ranIds().has(id)), 60_000, 'every accepted request to run').catch(() => undefined);
  const ran = ranIds();
  const lost = [...accepted].filter((id) => !ran.has(id));
  t.same(lost.slice(0, 10), [], `0 of ${accepted.size} accepted requests lost (${lost.length} missing)`);
  const cbIds = () => new Set(cb.got.map((c) => c.id));
  await until(() => [...accepted].every((id) => cbIds().has(id)), 60_000, 'every callback').catch(() => undefined);
  const noCallback = [...accepted].filter((id) => !cbIds().has(id));
  t.same(noCallback.slice(0, 10), [], `every accepted request's callback arrived (${noCallback.length} missing)`);
  const counts = new Map<string, number>();
  for (const [id] of runs(rec)) counts.set(id, (counts.get(id) ?? 0) + 1);
  const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
  t.comment(`${duplicates} duplicate run(s), ${cb.got.length - cbIds().size} duplicate callback(s)`);
  t.ok(duplicates <= 4 * CONCURRENCY, `duplicates (${duplicates}) at most the runs in flight at the four kills (4 × ${CONCURRENCY})`);
  t.ok(cb.got.every((c) => c.status === 200), 'every callback carries the 200 of its run');
  t.equal((await p.cli(['down'])).code, 0);
}
