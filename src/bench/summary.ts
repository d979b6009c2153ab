// Percentiles of one measurement and the folding of rounds into one row per cell.
import type { CellResult, CellSummary, LatencySummary } from './types.js';

/** Nearest-rank percentiles of latencies in µs; sorts `samples` in place. */
export function summarize(samples: Float64Array): LatencySummary {
  const n = samples.length;
  if (n === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  samples.sort();
  const at = (q: number): number => samples[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += samples[i];
  return { count: n, mean: sum / n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: samples[n - 1] };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const failed = (c: CellResult): boolean => c.latency.count === 0 || c.non2xx > 0 || c.errors > 0;

/**
 * One row per (setup, size, connections): the median of the rounds' p50, p99 and req/s (rounds
 * alternate with the other setups, so the median resists one noisy round) and the max of maxima.
 * A round with errors or non-2xx answers counts as a failure and is left out of the medians.
 */
export function summarizeCells(cells: CellResult[]): CellSummary[] {
  const groups = new Map<string, CellResult[]>();
  for (const c of cells) {
    const key = `${c.setup}/${c.size}/${c.connections}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()].map((rounds) => {
    const ok = rounds.filter((c) => !failed(c));
    const p50s = ok.map((c) => c.latency.p50);
    const { setup, size, connections } = rounds[0];
    return {
      setup,
      size,
      connections,
      p50: median(p50s),
      p99: median(ok.map((c) => c.latency.p99)),
      p999: median(ok.map((c) => c.latency.p999)),
      max: ok.length ? Math.max(...ok.map((c) => c.latency.max)) : NaN,
      rps: median(ok.map((c) => c.rps)),
      cpuPerRequest: median(ok.map((c) => c.cpu.serverUs / c.latency.count)),
      ...byRole(ok),
      ...gcOf(ok),
      p50Range: ok.length ? [Math.min(...p50s), Math.max(...p50s)] : [NaN, NaN],
      failures: rounds.length - ok.length,
      non2xx: rounds.reduce((a, c) => a + c.non2xx, 0),
      ...heldOf(rounds),
    };
  });
}

function byRole(ok: CellResult[]): Pick<CellSummary, 'cpuPerRequestByRole'> {
  const roles = [...new Set(ok.flatMap((c) => Object.keys(c.cpu.byRole ?? {})))];
  if (!roles.length) return {};
  return { cpuPerRequestByRole: Object.fromEntries(roles.map((r) => [r, median(ok.map((c) => (c.cpu.byRole?.[r] ?? 0) / c.latency.count))])) };
}

function heldOf(rounds: CellResult[]): Pick<CellSummary, 'heldPerByte'> {
  const held = rounds.flatMap((c) => (c.heldPerByte !== undefined ? [c.heldPerByte] : []));
  return held.length ? { heldPerByte: median(held) } : {};
}

function gcOf(ok: CellResult[]): Pick<CellSummary, 'gc'> {
  const gcs = ok.flatMap((c) => (c.gc ? [c.gc] : []));
  return gcs.length ? { gc: { percent: median(gcs.map((g) => g.percent)), maxPauseMs: Math.max(...gcs.map((g) => g.maxPauseMs)) } } : {};
}

export const findCell = (s: CellSummary[], setup: string, size: number, connections: number): CellSummary | undefined =>
  s.find((c) => c.setup === setup && c.size === size && c.connections === connections);
