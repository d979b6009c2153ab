// The open-loop part of a run: every setup offered the same steady request rate by ffrate
// (rate.ts), each request's latency counted from when it was due. wrk's closed loop hides a stall
// (a connection waiting on a slow answer sends nothing, so what would have been sent is never
// measured); here a 20 ms pause shows up in every request due during it. At 1 KiB, and at 1 MiB
// and 5 MiB when the run measured them; at each size the rate is half what faasflow carried at
// that size × 32 in the same run: a load it sustains with room, not its limit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { files, untilIdle } from './driver.js';
import { buildRate, runRate } from './rate.js';
import type { RunningSetup } from './setups.js';
import { median } from './summary.js';
import type { BenchEvent, BenchOptions, CellResult, FixedRateCell, FixedRateResult } from './types.js';

const MiB = 1 << 20;
/** The sizes run open loop when the closed-loop cells measured them. */
const SIZES = [1024, MiB, 5 * MiB];
const CONNECTIONS = 32;
/** Of faasflow's closed-loop req/s. */
const SHARE = 0.5;

export async function runFixedRate(running: RunningSetup[], cells: CellResult[], opts: BenchOptions, emit: (e: BenchEvent) => void): Promise<FixedRateResult[]> {
  const out: FixedRateResult[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-rate-'));
  try {
    let bin: string | undefined;
    for (const size of SIZES.filter((s) => opts.sizes.includes(s))) {
      const carried = cells.filter((c) => c.setup === 'faasflow' && c.size === size && c.connections === CONNECTIONS && !c.errors && !c.non2xx).map((c) => c.rps);
      if (!carried.length) {
        emit({ type: 'warning', message: `no clean ${size} B × 32 faasflow cell: the fixed-rate run at that size has no rate to offer and is skipped` });
        continue;
      }
      // A tenth of a request per second is a rate too, for the largest bodies on a slow machine.
      const rate = size <= 1024 ? Math.max(100, Math.round((median(carried) * SHARE) / 100) * 100) : Math.max(1, Math.round(median(carried) * SHARE));
      try {
        bin ??= await buildRate(dir);
      } catch (err) {
        emit({ type: 'warning', message: `fixed-rate run skipped: ${(err as Error).message}` });
        return out;
      }
      const body = files(size).body;
      const cellsAt: FixedRateCell[] = [];
      for (const setup of running) {
        emit({ type: 'rate-start', setup: setup.name, rate, connections: CONNECTIONS, size });
        await untilIdle(setup.pids());
        const r = await runRate(bin, { url: setup.url, bodyFile: body, rate, connections: CONNECTIONS, seconds: opts.duration, warmup: opts.warmup });
        const cell: FixedRateCell = { setup: setup.name, intended: r.intended, answered: r.answered, failures: r.non2xx + r.errors + r.timeouts, achieved: r.achieved, p50: r.p50, p99: r.p99, p999: r.p999, max: r.max };
        cellsAt.push(cell);
        emit({ type: 'rate-done', cell });
      }
      out.push({ size, connections: CONNECTIONS, rate, seconds: opts.duration, cells: cellsAt });
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
