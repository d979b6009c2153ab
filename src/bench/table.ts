// The results as rows of text, rendered by both the console view and the BENCHMARKS.md writer.
import { sizeLabel } from './options.js';
import { findCell } from './summary.js';
import type { ScalingModel } from './scaling.js';
import { verdict } from './targets.js';
import type { BenchResult, CellSummary, FixedRateResult, TargetResult } from './types.js';

/** µs with real resolution below 10 ms, ms above: "97 µs", "4210 µs", "52.3 ms". */
export function fmtMicros(us: number): string {
  if (!Number.isFinite(us)) return '—';
  if (us < 10_000) return `${Math.round(us)} µs`;
  if (us < 10_000_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

export const fmtRate = (r: number): string => (Number.isFinite(r) ? (r >= 100 ? Math.round(r).toString() : r.toFixed(1)) : '—');
export const fmtRatio = (r: number | null): string => (r === null || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}×`);

export const HEADER = ['body', 'setup', 'p50', 'p99', 'p99.9', 'max', 'req/s', 'non-2xx', 'CPU/req', 'p50 ÷ floor', 'p99 ÷ floor', 'req/s ÷ floor', 'p50 ÷ copy', 'req/s ÷ copy', 'held ÷ body'];

const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : null;

/** Rows for one connection count: every size × setup; the ratio columns only on faasflow rows (and its variant's). */
export function cellRows(result: BenchResult, connections: number): string[][] {
  const rows: string[][] = [];
  const { sizes, setups } = result.options;
  for (const size of sizes) {
    for (const setup of setups) {
      const c = findCell(result.summary, setup, size, connections);
      if (!c) continue;
      const failed = c.failures ? ` (${c.failures} failed round${c.failures > 1 ? 's' : ''})` : '';
      const row = [sizeLabel(size), setup + failed, fmtMicros(c.p50), fmtMicros(c.p99), fmtMicros(c.p999), fmtMicros(c.max), fmtRate(c.rps), String(c.non2xx), fmtMicros(c.cpuPerRequest)];
      if (setup.startsWith('faasflow')) row.push(...ratios(result.summary, c));
      else row.push('', '', '', '', '');
      row.push(c.heldPerByte !== undefined ? c.heldPerByte.toFixed(2) : '');
      rows.push(row);
    }
  }
  return rows;
}

/** Against the floor (the cluster when the run has one) and the copying chain. */
function ratios(summary: CellSummary[], ours: CellSummary): string[] {
  const floor = findCell(summary, 'cluster', ours.size, ours.connections) ?? findCell(summary, 'floor', ours.size, ours.connections);
  const copy = findCell(summary, 'copy', ours.size, ours.connections);
  return [
    fmtRatio(ratio(ours.p50, floor?.p50)),
    fmtRatio(ratio(ours.p99, floor?.p99)),
    fmtRatio(ratio(ours.rps, floor?.rps)),
    fmtRatio(ratio(ours.p50, copy?.p50)),
    fmtRatio(ratio(ours.rps, copy?.rps)),
  ];
}

export const FIXED_HEADER = ['body', 'setup', 'offered', 'achieved', 'p50', 'p99', 'p99.9', 'max', 'failed'];

/** Every open-loop run of `result`: each size, each setup. */
export const fixedRuns = (result: BenchResult): FixedRateResult[] => result.fixedRates ?? (result.fixedRate ? [result.fixedRate] : []);

export const fixedRows = (result: BenchResult): string[][] =>
  fixedRuns(result).flatMap((f) => f.cells.map((c) => [sizeLabel(f.size), c.setup, fmtRate(f.rate), fmtRate(c.achieved), fmtMicros(c.p50), fmtMicros(c.p99), fmtMicros(c.p999), fmtMicros(c.max), String(c.failures)]));

export const SCALING_HEADER = ['cores', 'faasflow split', 'faasflow req/s', 'cluster floor req/s', 'ratio'];

export const scalingRows = (m: ScalingModel): string[][] =>
  m.rows.map((r) => [String(r.cores), `${r.gateways} gateway${r.gateways > 1 ? 's' : ''} + ${r.cores - r.gateways} container cores`, fmtRate(r.faasflow), fmtRate(r.floor), fmtRatio(r.ratio)]);

export const TARGET_HEADER = ['target', 'measured', 'verdict'];

function fmtTarget(t: TargetResult): string {
  if (t.unit === '×' || t.unit === undefined) return fmtRatio(t.ratio);
  if (t.ratio === null) return '—';
  return t.unit === '%' ? `${t.ratio.toFixed(1)} %` : t.unit === 'ms' ? `${t.ratio.toFixed(1)} ms` : String(t.ratio);
}

export const targetRows = (result: BenchResult): string[][] => result.targets.map((t) => [t.description, fmtTarget(t), verdict(t)]);

export function runLine(result: BenchResult): string {
  const m = result.machine;
  const o = result.options;
  return [
    `${m.cpu}, ${m.cores} cores`,
    `Node ${m.node}`,
    m.os,
    `load average ${m.loadBefore.join(' ')} before the run`,
    `\`${o.command}\``,
    result.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    `${o.prime} s priming per setup, ${o.duration} s cells after ${o.warmup} s warm-up, ${o.rounds} round${o.rounds > 1 ? 's' : ''}${o.quick ? ' (--quick)' : ''}`,
  ].join(' · ');
}
