// What turns successive readings of a process into rates and trends: CPU % of a core from its CPU
// time, and whether its private memory rises steadily enough to be a likely leak.

/** CPU % of one core per pid from successive cpu-time readings (100 = one core busy). */
export class CpuMeter {
  private readonly last = new Map<number, { cpu: number; at: number }>();

  /** Percent since the previous reading of `pid`, or null on its first reading. */
  update(pid: number, cpuTime: number, at = performance.now()): number | null {
    const prev = this.last.get(pid);
    this.last.set(pid, { cpu: cpuTime, at });
    if (!prev || at <= prev.at || cpuTime < prev.cpu) return null;
    return ((cpuTime - prev.cpu) / ((at - prev.at) / 1000)) * 100;
  }

  /** Forgets pids not in `alive` (a restarted replica has a new pid). */
  retain(alive: Set<number>): void {
    for (const pid of this.last.keys()) if (!alive.has(pid)) this.last.delete(pid);
  }
}

export interface TrendOptions {
  /** Samples kept (oldest dropped). */
  window?: number;
  /** Fewer samples than this never count as a leak. */
  minSamples?: number;
  /** The fitted rise over the window must be at least this many bytes… */
  minRiseBytes?: number;
  /** …and at least this fraction of the first sample. */
  minRiseFraction?: number;
  /** Goodness of the linear fit (R²): a steady climb, not one jump or a GC sawtooth. */
  minR2?: number;
  /** Fraction of sample-to-sample steps that go up (a plateau after one jump is not a leak). */
  minUpFraction?: number;
}

export interface TrendVerdict {
  samples: number;
  /** Least-squares slope, bytes per second. */
  slopeBytesPerS: number;
  /** Slope × the window's duration. */
  riseBytes: number;
  r2: number;
  upFraction: number;
  leak: boolean;
}

const TREND_DEFAULTS: Required<TrendOptions> = { window: 60, minSamples: 10, minRiseBytes: 4 << 20, minRiseFraction: 0.05, minR2: 0.8, minUpFraction: 0.6 };

/**
 * Private memory over time. A leak is a rise that is steady (linear fit R² high, most steps up)
 * and large enough to matter over the window; Node's heap grows in steps and settles after
 * warm-up, so a short or noisy rise is not flagged.
 */
export class MemoryTrend {
  private readonly o: Required<TrendOptions>;
  private readonly t: number[] = [];
  private readonly v: number[] = [];

  constructor(o: TrendOptions = {}) {
    this.o = { ...TREND_DEFAULTS, ...o };
  }

  add(atMs: number, bytes: number): void {
    this.t.push(atMs / 1000);
    this.v.push(bytes);
    if (this.t.length > this.o.window) {
      this.t.shift();
      this.v.shift();
    }
  }

  get length(): number {
    return this.v.length;
  }

  verdict(): TrendVerdict {
    const n = this.v.length;
    if (n < 2) return { samples: n, slopeBytesPerS: 0, riseBytes: 0, r2: 0, upFraction: 0, leak: false };
    const t0 = this.t[0];
    let st = 0;
    let sv = 0;
    for (let i = 0; i < n; i++) {
      st += this.t[i] - t0;
      sv += this.v[i];
    }
    const mt = st / n;
    const mv = sv / n;
    let stt = 0;
    let stv = 0;
    let svv = 0;
    let up = 0;
    for (let i = 0; i < n; i++) {
      const dt = this.t[i] - t0 - mt;
      const dv = this.v[i] - mv;
      stt += dt * dt;
      stv += dt * dv;
      svv += dv * dv;
      if (i > 0 && this.v[i] > this.v[i - 1]) up++;
    }
    const slope = stt > 0 ? stv / stt : 0;
    const r2 = stt > 0 && svv > 0 ? (stv * stv) / (stt * svv) : 0;
    const rise = slope * (this.t[n - 1] - t0);
    const upFraction = up / (n - 1);
    const o = this.o;
    const leak = n >= o.minSamples && slope > 0 && rise >= o.minRiseBytes && rise >= o.minRiseFraction * this.v[0] && r2 >= o.minR2 && upFraction >= o.minUpFraction;
    return { samples: n, slopeBytesPerS: slope, riseBytes: rise, r2, upFraction, leak };
  }
}
