// Preloaded with NODE_OPTIONS=--import into faasflow's processes during a benchmark (Node refuses
// --trace-gc there): a gateway appends every garbage collection it does to <dir>/gc-<pid>.log as
// "<epoch ms> <pause ms>" lines, so the harness can say what share of each cell's wall time the
// gateway spent collecting and its longest pause. A third field is the kind (1 minor, 2 major,
// 4 incremental marking, 8 weak callbacks: perf_hooks' constants), for reading the log by hand. Other processes do nothing (a container may
// not be allowed to write there at all).
import fs from 'node:fs';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';

export const GC_DIR_ENV = 'FAASFLOW_BENCH_GC_DIR';

const dir = process.env[GC_DIR_ENV];
if (dir && /[\\/]gateway[\\/]main\.js$/.test(process.argv[1] ?? '')) {
  const file = path.join(dir, `gc-${process.pid}.log`);
  let lines: string[] = [];
  const flush = (): void => {
    if (!lines.length) return;
    try {
      fs.appendFileSync(file, lines.join(''));
    } catch {
      // the directory is gone: the run is over
    }
    lines = [];
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) lines.push(`${(performance.timeOrigin + e.startTime).toFixed(1)} ${e.duration.toFixed(3)} ${(e as { detail?: { kind?: number } }).detail?.kind ?? 0}\n`);
  }).observe({ entryTypes: ['gc'] });
  setInterval(flush, 250).unref();
  process.on('exit', flush);
}

export interface GcShare {
  /** Share of the window's wall time spent in GC pauses, %. */
  percent: number;
  maxPauseMs: number;
  count: number;
}

/** What the gateways' logs in `logDir` say about the window [from, to] (epoch ms), or undefined. */
export function gcShare(logDir: string, from: number, to: number): GcShare | undefined {
  let files: string[];
  try {
    files = fs.readdirSync(logDir).filter((f) => /^gc-\d+\.log$/.test(f));
  } catch {
    return undefined;
  }
  if (!files.length) return undefined;
  let total = 0;
  let max = 0;
  let count = 0;
  for (const f of files) {
    for (const line of fs.readFileSync(path.join(logDir, f), 'utf8').split('\n')) {
      const [at, ms] = line.split(' ').map(Number);
      if (!(at >= from && at <= to)) continue;
      total += ms;
      max = Math.max(max, ms);
      count++;
    }
  }
  // Several gateways: the share of one gateway's time, on average.
  return { percent: (100 * total) / files.length / (to - from), maxPauseMs: max, count };
}
