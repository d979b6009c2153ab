// Runs one cell: forks the load generator against a running setup and waits for its result.
import { fork, type ChildProcess } from 'node:child_process';
import { distFile } from './process.js';
import type { LoadResult } from './load.js';

const LOAD = distFile('load.js');

export interface CellLoad {
  url: string;
  size: number;
  connections: number;
  duration: number;
  warmup: number;
  /** Processes of the setup whose CPU time is measured. */
  pids: number[];
}

const live = new Set<ChildProcess>();

/** Kills any load generator still running (used by the harness's signal handler). */
export function killLoad(): void {
  for (const c of live) c.kill('SIGKILL');
}

export function runLoad(cell: CellLoad): Promise<LoadResult> {
  const args = ['--url', cell.url, '--size', String(cell.size), '--connections', String(cell.connections), '--duration', String(cell.duration), '--warmup', String(cell.warmup), '--pids', cell.pids.join(',')];
  // autocannon copies headers + body into one buffer per connection (32 × 16 MiB): give it room.
  const child = fork(LOAD, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=4096'] });
  live.add(child);
  const limitMs = (cell.duration + cell.warmup) * 1000 + 90_000;
  return new Promise((resolve, reject) => {
    let result: LoadResult | null = null;
    let failure = '';
    const timer = setTimeout(() => {
      failure = `load generator still running after ${limitMs} ms`;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('message', (m: LoadResult | { type: 'failed'; message: string }) => {
      if (m.type === 'result') result = m;
      else failure = m.message;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      if (result) resolve(result);
      else reject(new Error(`load generator: ${failure || `exited (${signal ?? code}) without a result`}`));
    });
  });
}
