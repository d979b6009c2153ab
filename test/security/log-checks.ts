// What the log tests (41.logs, 42.log-rate) read back from an instance a loud function ran in:
// function 2's cut and dropped lines as /metrics and `top --once --json` count them, its log as
// `faasflow logs` shows it, and every byte of its log files.
import type { Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { request } from '../helpers/http.js';
import { value } from '../helpers/prom.js';
import type { HostileContext } from './harness.js';

export const LOUD = fs.readFileSync(new URL('./fixtures/loud.ts', import.meta.url), 'utf8');
/** The default `logs.maxLine`. */
export const MAX_LINE = 16 << 10;
/** A logged line at most: the kept part, the timestamp and who wrote it, the cut's mark. */
export const LINE_BOUND = MAX_LINE + 256;
export const MiB = 1 << 20;

export interface Counts {
  cut: number;
  dropped: number;
}

/** Function `id`'s cut and dropped lines as /metrics and `top --once --json` count them. */
export async function counted(h: HostileContext, id: number): Promise<{ metrics: Counts; top: Counts }> {
  const body = (await request(h.inst.port, 'GET', '/metrics')).body.toString();
  const metric = (action: string) => value(body, 'faasflow_log_lines_total', { role: 'container', function: String(id), replica: '0', action }) ?? -1;
  const top = await h.inst.cli(['top', '--once', '--interval', '200'], true);
  const procs = (JSON.parse(top.stdout) as { processes: { role: string; functionId: number; logs: Counts }[] }).processes.filter((p) => p.role === 'container' && p.functionId === id);
  const most = (k: keyof Counts) => Math.max(-1, ...procs.map((p) => p.logs[k]));
  return { metrics: { cut: metric('cut'), dropped: metric('dropped') }, top: { cut: most('cut'), dropped: most('dropped') } };
}

/** `faasflow logs --id <id>` as the instance's user. */
export async function logsOf(h: HostileContext, id: number, n = 200): Promise<string> {
  const r = await h.inst.cli(['logs', '--id', String(id), '-n', String(n)]);
  return r.stdout;
}

export async function poke(t: Test, h: HostileContext, query: Record<string, string>): Promise<{ written: number; ms: number; buffered: number }> {
  const r = await h.poke(query);
  t.equal(r.status, 200, `${JSON.stringify(query)} answered: ${r.error ?? r.body.toString().slice(0, 200)}`);
  return r.status === 200 ? (JSON.parse(r.body.toString()) as { written: number; ms: number; buffered: number }) : { written: 0, ms: 0, buffered: 0 };
}

/** The text of function 2's log files, rotated ones included. */
export function logFiles(h: HostileContext): string[] {
  const dir = path.join(h.inst.runtimeDir, 'logs');
  return fs.readdirSync(dir).filter((f) => f.startsWith('fn-2.log')).map((f) => {
    try {
      return fs.readFileSync(path.join(dir, f), 'utf8');
    } catch {
      return ''; // rotated away between the listing and the read
    }
  });
}

/** Every byte of function 2's log files: printable UTF-8, lines no longer than the bound. */
export function checkFiles(t: Test, h: HostileContext): void {
  const dir = path.join(h.inst.runtimeDir, 'logs');
  for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('fn-2.log'))) {
    const bytes = fs.readFileSync(path.join(dir, f));
    const text = bytes.toString('utf8');
    t.ok(Buffer.from(text, 'utf8').equals(bytes), `${f} is valid UTF-8`);
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    t.notOk(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(text), `${f} holds no control character (NUL, ESC, CR, C1)`);
    const longest = Math.max(0, ...text.split('\n').map((l) => Buffer.byteLength(l)));
    t.ok(longest <= LINE_BOUND, `${f}: its longest line is ${longest} bytes (at most ${LINE_BOUND})`);
  }
}
