// wrk, the independent C load generator (Debian's package), driven for one measurement: POSTs of
// a fixed body over N keep-alive connections for a while. Its percentiles come from its own
// histogram through a Lua `done` hook, at microsecond resolution. wrk is closed-loop (a connection
// sends its next request when the answer came): a stall delays the requests behind it without
// recording them, which is what the fixed-rate client (rate.ts) measures instead.
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { LatencySummary } from './types.js';

/** Latency of every answer in µs (wrk's histogram), and what the run did. */
export interface WrkResult extends Omit<LatencySummary, 'count'> {
  /** Answers of every status. */
  requests: number;
  /** 2xx answers per second. */
  rps: number;
  non2xx: number;
  /** Connect, read and write errors. */
  errors: number;
  timeouts: number;
  seconds: number;
}

const SCRIPT = `local f = io.open(os.getenv("FF_BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("FFRESULT %d %d %d %d %d %d %.1f %d %d %d %d\\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, summary.duration,
    latency.mean, summary.requests, e.status, e.connect + e.read + e.write, e.timeout))
end
`;

export function hasWrk(): Promise<boolean> {
  return new Promise((resolve) => execFile('wrk', ['--version'], (err, out, errOut) => resolve(!err || /wrk/.test(`${out}${errOut}`))));
}

/** Writes the Lua script and one body file per name into `dir`; returns what runWrk needs. */
export function prepare(dir: string, bodies: Record<string, number>): { script: string; body: (name: string) => string } {
  const script = path.join(dir, 'post.lua');
  fs.writeFileSync(script, SCRIPT);
  for (const [name, size] of Object.entries(bodies)) fs.writeFileSync(path.join(dir, `body-${name}`), Buffer.alloc(size, 0x61));
  return { script, body: (name) => path.join(dir, `body-${name}`) };
}

const live = new Set<ChildProcess>();

/** Kills every wrk still running (the harness's signal handler). */
export function killWrk(): void {
  for (const c of live) c.kill('SIGKILL');
}

export function runWrk(url: string, script: string, bodyFile: string, connections: number, seconds: number, onStart?: (pid: number) => void): Promise<WrkResult> {
  // wrk takes whole seconds (it has no smaller unit and reads "1.5s" as 1 s).
  const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--timeout', '30s', '-s', script, url];
  return new Promise((resolve, reject) => {
    const child = execFile('wrk', args, { env: { ...process.env, FF_BODY: bodyFile }, timeout: (seconds + 60) * 1000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      live.delete(child);
      const m = /FFRESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) ([\d.]+) (\d+) (\d+) (\d+) (\d+)/.exec(stdout);
      if (!m) return reject(new Error(`wrk ${args.join(' ')} gave no result${err ? `: ${err.message}` : ''}\n${stdout}${stderr}`));
      const n = m.slice(1).map(Number);
      const [p50, p90, p99, p999, max, durationUs, mean, requests, non2xx, errors, timeouts] = n;
      const s = durationUs / 1e6;
      resolve({ mean, p50, p90, p99, p999, max, requests, rps: (requests - non2xx) / s, non2xx, errors, timeouts, seconds: s });
    });
    live.add(child);
    if (child.pid) onStart?.(child.pid);
  });
}
