// Runs one cell: wrk against a running setup, a discarded warm-up first, the setup's CPU time read
// around the measured part, and a wait for the setup to go idle after. wrk drops the requests in
// flight when its time is up and a setup may still be working through them (32 × 16 MiB is a
// second of CPU): the next cell, another setup, must not share the cores with that backlog.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCpu } from './cpu.js';
import { killWrk, prepare, runWrk } from './wrk.js';
import type { CellResult } from './types.js';

export interface CellLoad {
  url: string;
  size: number;
  connections: number;
  duration: number;
  warmup: number;
  /** Processes of the setup whose CPU time is measured. */
  pids: number[];
  /** The same by kind of process, for CPU per request of each. */
  roles?: Record<string, number[]>;
}

/** The measured part of a CellResult, and when it ran (epoch ms) for matching GC pauses to it. */
export type LoadResult = Pick<CellResult, 'seconds' | 'latency' | 'rps' | 'non2xx' | 'errors' | 'timeouts' | 'cpu'> & { from: number; to: number };

/** Below this much CPU in 100 ms (5 % of a core) a setup counts as idle. */
const IDLE_NS = 5e6;
const IDLE_WAIT_MS = 15_000;

let dir: string | undefined;
const bodies = new Map<number, string>();
let script = '';

export function files(size: number): { script: string; body: string } {
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-load-'));
  if (!bodies.has(size)) {
    const w = prepare(dir, { [String(size)]: size });
    script = w.script;
    bodies.set(size, w.body(String(size)));
  }
  return { script, body: bodies.get(size)! };
}

/** Kills any wrk still running and removes the body files (the harness's cleanup). */
export function stopLoad(): void {
  killWrk();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  bodies.clear();
}

/** Waits until the setup's processes have used under 5 % of a core for 100 ms. */
export async function untilIdle(pids: number[]): Promise<void> {
  if (!pids.length) return;
  const end = Date.now() + IDLE_WAIT_MS;
  let last = readCpu(pids).cpuNs;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    const now = readCpu(pids).cpuNs;
    if (now - last < IDLE_NS) return;
    last = now;
  }
}

export async function runLoad(cell: CellLoad): Promise<LoadResult> {
  const f = files(cell.size);
  if (cell.warmup > 0) await runWrk(cell.url, f.script, f.body, cell.connections, cell.warmup);
  await untilIdle(cell.pids);
  let loadPid = 0;
  let loadNs = 0;
  // wrk's own CPU time, read while it runs (once it has exited /proc has nothing to say).
  const poll = setInterval(() => {
    if (loadPid) loadNs = Math.max(loadNs, readCpu([loadPid]).cpuNs);
  }, 50);
  const roles = Object.entries(cell.roles ?? {});
  const role0 = roles.map(([, pids]) => readCpu(pids).cpuNs);
  const server0 = readCpu(cell.pids);
  const from = Date.now();
  let r;
  try {
    r = await runWrk(cell.url, f.script, f.body, cell.connections, cell.duration, (pid) => (loadPid = pid));
  } finally {
    clearInterval(poll);
  }
  const to = Date.now();
  const server1 = readCpu(cell.pids);
  const byRole = roles.length ? { byRole: Object.fromEntries(roles.map(([role, pids], i) => [role, (readCpu(pids).cpuNs - role0[i]) / 1000])) } : {};
  await untilIdle(cell.pids);
  return {
    from,
    to,
    seconds: r.seconds,
    latency: { count: r.requests - r.non2xx, mean: r.mean, p50: r.p50, p90: r.p90, p99: r.p99, p999: r.p999, max: r.max },
    rps: r.rps,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    cpu: { serverUs: (server1.cpuNs - server0.cpuNs) / 1000, serverWaitUs: (server1.waitNs - server0.waitNs) / 1000, loadUs: loadNs / 1000, ...byRole },
  };
}
