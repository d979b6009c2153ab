// A real HAProxy for tests: started in the foreground from a config file, asked for its view of
// the servers over its stats socket, killed at teardown (also when the test fails).
import fs from 'node:fs';
import net from 'node:net';
import { execa, type ResultPromise } from 'execa';
import type { Test } from 'tap';
import { until } from '../cli/helpers.js';

export interface ServerStat {
  /** UP, DOWN, MAINT, "UP 1/2" (going down), "DOWN 1/2" (coming up), NOLB (drain). */
  status: string;
  /** Sessions HAProxy sent the server, ever. */
  sessions: number;
  /** Failed checks while the server was up. */
  failedChecks: number;
  /** UP to DOWN transitions. */
  downs: number;
}

export function haproxyAvailable(): boolean {
  return ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'].some((f) => fs.existsSync(f));
}

/** `haproxy -c`: the config's own verdict, as text. */
export async function haproxyCheck(file: string): Promise<{ code: number; output: string }> {
  const r = await execa('haproxy', ['-c', '-f', file], { reject: false });
  return { code: r.exitCode ?? -1, output: `${r.stdout}\n${r.stderr}` };
}

export function startHaproxy(t: Test, file: string): ResultPromise {
  // -db: foreground, no daemon; its log lines go to stdout, which nothing reads (ignored).
  const proc = execa('haproxy', ['-db', '-f', file], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: true });
  t.teardown(async () => {
    proc.kill('SIGKILL');
    await proc;
  });
  return proc;
}

function ask(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let out = '';
    c.on('connect', () => c.write(`${command}\n`));
    c.on('data', (d) => (out += d.toString()));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

/** Each server of `backend` as the stats socket reports it (`show stat`, CSV). */
export async function serverStats(socket: string, backend = 'faasflow'): Promise<Map<string, ServerStat>> {
  const csv = (await ask(socket, 'show stat')).trim().split('\n');
  const head = csv[0].replace(/^# /, '').split(',');
  const col = (name: string) => head.indexOf(name);
  const out = new Map<string, ServerStat>();
  for (const line of csv.slice(1)) {
    const f = line.split(',');
    if (f[col('pxname')] !== backend || f[col('svname')] === 'BACKEND' || f[col('svname')] === 'FRONTEND') continue;
    out.set(f[col('svname')], { status: f[col('status')], sessions: Number(f[col('stot')]), failedChecks: Number(f[col('chkfail')]), downs: Number(f[col('chkdown')]) });
  }
  return out;
}

/** Waits until HAProxy reports `server` in `status` (it checks every `inter`; the wait is generous). */
export async function waitStatus(socket: string, server: string, status: 'UP' | 'DOWN'): Promise<ServerStat> {
  // until() returns only a truthy value.
  const s = await until(
    async () => {
      const s = (await serverStats(socket)).get(server);
      return s && s.status === status ? s : undefined;
    },
    30_000,
    `HAProxy to report ${server} ${status}`,
  );
  return s!;
}

/** Waits until the stats socket answers (HAProxy has read its config and is serving); HAProxy exiting instead is an error with its output. */
export async function waitStatsSocket(socket: string, proc: ResultPromise): Promise<void> {
  const exited = proc.then((r) => {
    throw new Error(`haproxy exited (${r.exitCode}) before serving: ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
  });
  exited.catch(() => undefined); // raced below; never unhandled
  await Promise.race([until(() => ask(socket, 'show info').then(() => true, () => false), 15_000, `HAProxy's stats socket ${socket}`), exited]);
}
