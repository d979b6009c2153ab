// wrk, the independent C load generator (Debian's package), driven for one cell: a POST of a
// fixed body over N connections for a while, its latency percentiles read from a Lua `done` hook.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface WrkResult {
  p50: number;
  p99: number;
  p999: number;
  rps: number;
  errors: number;
}

const SCRIPT = `local f = io.open(os.getenv("FF_BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("FFRESULT %d %d %d %.1f %d\\n", latency:percentile(50), latency:percentile(99), latency:percentile(99.9), summary.requests / (summary.duration / 1e6), e.status + e.connect + e.read + e.write + e.timeout))
end
`;

export function hasWrk(): Promise<boolean> {
  return new Promise((resolve) => execFile('wrk', ['--version'], (err, out, errOut) => resolve(!err || /wrk/.test(`${out}${errOut}`))));
}

/** Writes the Lua script and the body file into `dir`; returns what runWrk needs. */
export function prepare(dir: string, bodies: Record<string, number>): { script: string; body: (name: string) => string } {
  const script = path.join(dir, 'post.lua');
  fs.writeFileSync(script, SCRIPT);
  for (const [name, size] of Object.entries(bodies)) fs.writeFileSync(path.join(dir, `body-${name}`), Buffer.alloc(size, 0x61));
  return { script, body: (name) => path.join(dir, `body-${name}`) };
}

export function runWrk(url: string, script: string, bodyFile: string, connections: number, seconds: number): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { env: { ...process.env, FF_BODY: bodyFile }, timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      const m = /FFRESULT (\d+) (\d+) (\d+) ([\d.]+) (\d+)/.exec(stdout);
      if (!m) return reject(new Error(`wrk ${args.join(' ')} gave no result${err ? `: ${err.message}` : ''}\n${stdout}${stderr}`));
      resolve({ p50: Number(m[1]), p99: Number(m[2]), p999: Number(m[3]), rps: Number(m[4]), errors: Number(m[5]) });
    });
  });
}
