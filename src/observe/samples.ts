// What an Observer keeps per process between snapshots: CPU meters, the last full memory sample
// (/proc/<pid>/smaps_rollup) and the private-memory trend that the leak warning reads.
//
// Two ways to keep them. A scrape (/metrics, `top --once`) takes a full sample at most every
// `fullSampleMs`, and each one is a point of the trend. A live view (`top`, with ProcFiles) reads
// /proc/<pid>/status on every refresh, which is cheap, and the rollup, which is not (the kernel
// walks the process's page tables: 0.5–4 ms for a Node process), only every `rollupMs`, and less
// often for a process larger than ROLLUP_RSS (see rollupInterval): between two rollups a process's
// numbers are the last rollup carried forward by its status (see carryForward), and the trend gets
// a point of those every `fullSampleMs`.
import { carryForward, sampleMemory, sampleMemoryAsync, sampleMemoryWith, statusMemory, type MemorySample } from './memory.js';
import type { ProcFiles } from './procfs.js';
import { CpuMeter, MemoryTrend, type TrendOptions, type TrendVerdict } from './trend.js';

export class ProcessSamples {
  private readonly cpu = new CpuMeter();
  private readonly pollCpu = new CpuMeter();
  private readonly trends = new Map<number, MemoryTrend>();
  private readonly full = new Map<number, MemorySample>();
  /** Live: each process's numbers as of the last snapshot, when its next rollup is due, when its trend last had a point. */
  private readonly current = new Map<number, MemorySample>();
  private readonly nextRollup = new Map<number, number>();
  private readonly trendAt = new Map<number, number>();
  private readonly nextStatus = new Map<number, number>();

  constructor(
    private readonly fullSampleMs: number,
    private readonly trendOptions: TrendOptions,
    /** Given: a live view (see the top of this file). */
    private readonly files: ProcFiles | null = null,
    private readonly rollupMs = 6 * fullSampleMs,
    private readonly statusMs = 3000,
  ) {}

  /** Whether `pid` is due a full memory sample at `now`. */
  due(pid: number, now: number): boolean {
    const last = this.full.get(pid);
    return !last || now - last.at >= this.fullSampleMs;
  }

  /** Full samples of the due pids, read off the event loop two processes at a time (the scrape finishes sooner without taking the whole thread pool). */
  async prefetch(pids: number[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < pids.length) {
        const m = await sampleMemoryAsync(pids[next++]);
        if (m) this.record(m);
      }
    };
    await Promise.all([worker(), worker()]);
  }

  /** A live process's CPU % since its previous sample (its CPU seconds now: `cpuTime`), and (`sync`, when due) a fresh memory sample. */
  take(pid: number, now: number, sync: boolean, cpuTime: number): number | null {
    const cpuPercent = this.cpu.update(pid, cpuTime);
    if (this.files) this.live(this.files, pid, now, cpuTime);
    else if (sync && this.due(pid, now)) {
      const m = sampleMemory(pid);
      if (m) this.record(m);
    }
    return cpuPercent;
  }

  private live(files: ProcFiles, pid: number, now: number, cpuTime: number): void {
    let full = this.full.get(pid);
    const next = this.nextRollup.get(pid);
    const rollup = !full || next === undefined || now >= next;
    const statusAt = this.nextStatus.get(pid);
    if (!rollup && statusAt !== undefined && now < statusAt && this.current.has(pid)) return;
    const status = files.read(pid, 'status');
    if (status === null) return;
    // Spread like the rollups, so that each refresh reads about as many.
    this.nextStatus.set(pid, now + (statusAt === undefined ? Math.max(0.1, spread(pid)) : 1) * this.statusMs);
    if (rollup) {
      const m = sampleMemoryWith(pid, status, cpuTime);
      if (m) {
        full = m;
        this.full.set(pid, m);
        // Processes seen together (all of them, when top starts) get their second rollups
        // spread over the interval, so that no refresh reads them all.
        this.nextRollup.set(pid, now + (next === undefined ? Math.max(0.1, spread(pid)) : 1) * rollupInterval(this.rollupMs, m.rss));
      }
    }
    if (!full) return;
    const m = carryForward(full, statusMemory(status), now, cpuTime);
    this.current.set(pid, m);
    const last = this.trendAt.get(pid);
    if (last === undefined || now - last >= this.fullSampleMs) {
      this.trendAt.set(pid, now);
      this.trendOf(pid).add(now, m.privateBytes);
    }
  }

  /** Live view: when `pid`'s next rollup is due (ms, the clock `take` is given), if it had one. */
  rollupDueAt(pid: number): number | undefined {
    return this.nextRollup.get(pid);
  }

  /** Share of a core spent polling since the previous snapshot, from the process's own counter. */
  pollPercent(pid: number, seconds: number): number | null {
    return this.pollCpu.update(pid, seconds);
  }

  memory(pid: number): Omit<MemorySample, 'pid'> | null {
    const m = this.current.get(pid) ?? this.full.get(pid);
    if (!m) return null;
    const { pid: _pid, ...rest } = m;
    return rest;
  }

  trend(pid: number): TrendVerdict {
    return this.trends.get(pid)?.verdict() ?? new MemoryTrend().verdict();
  }

  /** Forgets every process not in `alive`. */
  retain(alive: Set<number>): void {
    for (const pid of [...this.full.keys(), ...this.current.keys()]) {
      if (!alive.has(pid)) {
        this.full.delete(pid);
        this.current.delete(pid);
        this.trends.delete(pid);
        this.nextRollup.delete(pid);
        this.trendAt.delete(pid);
        this.nextStatus.delete(pid);
      }
    }
    this.cpu.retain(alive);
    this.pollCpu.retain(alive);
  }

  private record(m: MemorySample): void {
    this.full.set(m.pid, m);
    this.trendOf(m.pid).add(m.at, m.privateBytes);
  }

  private trendOf(pid: number): MemoryTrend {
    let t = this.trends.get(pid);
    if (!t) {
      t = new MemoryTrend(this.trendOptions);
      this.trends.set(pid, t);
    }
    return t;
  }
}

/**
 * The kernel makes a rollup by visiting every resident page of the process (it sums PSS page by
 * page), so its cost grows with RSS: ~0.5 ms for a 45 MiB container, 8–20 ms for a supervisor of
 * 250 MiB whose type checker is warm (measured on a loaded 2-vCPU machine). Past ROLLUP_RSS (half
 * as much again as a gateway or a container, so those are not affected) a process is rolled up
 * proportionally less often, at most ROLLUP_STRETCH times: its rollups then cost `top` about what
 * an ordinary process's do, and the supervisor's no longer outweigh all the others. Its figures in between are carried forward by status as for any process (RSS, shm and
 * anon exact; private and PSS move with anon memory, which is how a heap grows).
 */
export const ROLLUP_RSS = 96 * 1024 * 1024;
const ROLLUP_STRETCH = 8;

/** How long after a rollup of a process with `rss` bytes resident the next one is due. */
export function rollupInterval(rollupMs: number, rss: number): number {
  return rollupMs * Math.min(ROLLUP_STRETCH, Math.max(1, rss / ROLLUP_RSS));
}

/** A fraction in [0, 1) that differs between neighbouring pids (Knuth's multiplicative hash). */
function spread(pid: number): number {
  return (Math.imul(pid, 2654435761) >>> 0) / 2 ** 32;
}
