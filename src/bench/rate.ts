// The fixed-rate (open-loop) load client: ffrate, a small C program compiled on first use, driven
// for one measurement. Unlike wrk (wrk.ts), it sends request i at t0 + i/rate whatever the server
// does and measures latency from that intended time, so a server stall is charged to every request
// scheduled during it instead of to the one or two that were in flight (coordinated omission; see
// the comment at the top of rate/ffrate.c). Debian's wrk has no rate mode, hence our own client.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RateResult {
  /** Requests intended in the measured window (after warmup): rate × seconds. */
  intended: number;
  /** Of those, answered with any status. */
  answered: number;
  non2xx: number;
  /** Connect, read and write failures and malformed answers, over the whole run. */
  errors: number;
  /** Intended requests without an answer within ffrate's --timeout (10 s). */
  timeouts: number;
  /** Latency from the intended send time to the answer's last byte, µs. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** 2xx answers per measured second. */
  achieved: number;
  /** From the end of warmup to the last answer, at least the asked duration. */
  seconds: number;
}

export interface RateOptions {
  url: string;
  bodyFile: string;
  /** Requests per second. */
  rate: number;
  connections: number;
  /** Measured duration. */
  seconds: number;
  /** Seconds sent at the same rate before measuring, not recorded. */
  warmup?: number;
  /** Aborting kills the client (a test's teardown, the harness's signal handler). */
  signal?: AbortSignal;
}

// The compiled JS lives in dist/bench/rate.js and the C source stays in src/bench/rate/, so from
// dist the source is ../../src/bench/rate/ffrate.c; from src under tsx the same URL resolves too,
// and ./rate/ffrate.c covers a tree where the source sits next to the module.
function source(): string {
  const candidates = [new URL('../../src/bench/rate/ffrate.c', import.meta.url), new URL('./rate/ffrate.c', import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`ffrate.c not found (looked at ${candidates.join(', ')})`);
  return found;
}

function run(cmd: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<{ err: (Error & { code?: unknown }) | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, signal }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
  });
}

/**
 * Compiles ffrate into `outDir` unless a binary newer than the source is there already; returns its
 * path. The compile goes to a temporary name and is renamed into place, so two harnesses building
 * into one directory never run a half-written binary.
 */
export async function buildRate(outDir: string): Promise<string> {
  const src = source();
  const bin = path.join(outDir, 'ffrate');
  const built = fs.statSync(bin, { throwIfNoEntry: false });
  if (built && built.mtimeMs > fs.statSync(src).mtimeMs) return bin;
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const { err, stderr } = await run('cc', ['-O2', '-o', tmp, src, '-lm'], 120_000);
  if (err) {
    fs.rmSync(tmp, { force: true });
    if (err.code === 'ENOENT') throw new Error('cannot build the fixed-rate client: no C compiler, `cc` is not on PATH (install gcc or clang)');
    throw new Error(`cc failed to compile ${src}: ${err.message}\n${stderr}`);
  }
  fs.renameSync(tmp, bin);
  return bin;
}

const LINE = /^FFRATE intended=(\d+) answered=(\d+) non2xx=(\d+) errors=(\d+) timeouts=(\d+) p50=(\d+) p99=(\d+) p999=(\d+) max=(\d+) achieved=([\d.]+) seconds=([\d.]+)$/m;

/** Parses ffrate's one result line; null when `stdout` has none. */
export function parseRate(stdout: string): RateResult | null {
  const m = LINE.exec(stdout);
  if (!m) return null;
  const [intended, answered, non2xx, errors, timeouts, p50, p99, p999, max, achieved, seconds] = m.slice(1).map(Number);
  return { intended, answered, non2xx, errors, timeouts, p50, p99, p999, max, achieved, seconds };
}

/**
 * One run of `bin` (from buildRate). Rejects with ffrate's stderr when it printed no result: bad
 * arguments (exit 2) or a target that refused every connection (exit 1).
 */
export async function runRate(bin: string, o: RateOptions): Promise<RateResult> {
  const warmup = o.warmup ?? 0;
  const args = ['--url', o.url, '--body', o.bodyFile, '--rate', String(o.rate), '--connections', String(o.connections), '--duration', String(o.seconds), '--warmup', String(warmup)];
  // ffrate stops by itself after warmup + duration + its 10 s drain timeout (+ 10 s of connects);
  // the kill is for a client that hangs all the same.
  const { err, stdout, stderr } = await run(bin, args, (warmup + o.seconds + 60) * 1000, o.signal);
  const result = parseRate(stdout);
  if (result) return result;
  const why = stderr.trim() || (err ? err.message : 'no output');
  throw new Error(`ffrate gave no result${err && typeof err.code === 'number' ? ` (exit ${err.code})` : ''}: ${why}`);
}
