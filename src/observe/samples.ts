// What an Observer keeps per process between snapshots: CPU meters, the last full memory sample
// (/proc/<pid>/smaps, taken at most every `fullSampleMs`) and the private-memory trend that the
// leak warning reads.
import { CpuMeter, MemoryTrend, sampleMemory, sampleMemoryAsync, type MemorySample, type TrendOptions, type TrendVerdict } from './memory.js';

export class ProcessSamples {
  private readonly cpu = new CpuMeter();
  private readonly pollCpu = new CpuMeter();
  private readonly trends = new Map<number, MemoryTrend>();
  private readonly full = new Map<number, MemorySample>();

  constructor(
    private readonly fullSampleMs: number,
    private readonly trendOptions: TrendOptions,
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

  /** A live process's CPU % since its previous sample (its CPU seconds now: `cpuTime`), and (`sync`, when due) a fresh full memory sample. */
  take(pid: number, now: number, sync: boolean, cpuTime: number): number | null {
    const cpuPercent = this.cpu.update(pid, cpuTime);
    if (sync && this.due(pid, now)) {
      const m = sampleMemory(pid);
      if (m) this.record(m);
    }
    return cpuPercent;
  }

  /** Share of a core spent polling since the previous snapshot, from the process's own counter. */
  pollPercent(pid: number, seconds: number): number | null {
    return this.pollCpu.update(pid, seconds);
  }

  memory(pid: number): Omit<MemorySample, 'pid'> | null {
    const m = this.full.get(pid);
    if (!m) return null;
    const { pid: _pid, ...rest } = m;
    return rest;
  }

  trend(pid: number): TrendVerdict {
    return this.trends.get(pid)?.verdict() ?? new MemoryTrend().verdict();
  }

  /** Forgets every process not in `alive`. */
  retain(alive: Set<number>): void {
    for (const pid of [...this.full.keys()]) {
      if (!alive.has(pid)) {
        this.full.delete(pid);
        this.trends.delete(pid);
      }
    }
    this.cpu.retain(alive);
    this.pollCpu.retain(alive);
  }

  private record(m: MemorySample): void {
    this.full.set(m.pid, m);
    let t = this.trends.get(m.pid);
    if (!t) {
      t = new MemoryTrend(this.trendOptions);
      this.trends.set(m.pid, t);
    }
    t.add(m.at, m.privateBytes);
  }
}
