// The bars the product sets itself: ratios against the setups measured in the same run (the floor
// is the Node cluster when the run has one: what a user would run on these cores), the gateway's
// GC share and longest pause, and for large bodies at 32 connections on the default segment: no
// answer other than 2xx, and no more than twice the body's bytes held in packets; all absolute.
import { sizeLabel } from './options.js';
import { findCell } from './summary.js';
import type { CellSummary, TargetResult } from './types.js';

const KiB = 1024;
const MiB = 1024 * KiB;

type Metric = 'p50' | 'p99' | 'rps';

interface TargetSpec {
  id: string;
  description: string;
  size: number;
  connections: number;
  metric: Metric;
  versus: 'floor' | 'copy';
  kind: 'max' | 'min';
  limit: number;
}

function specs(sizes: number[]): TargetSpec[] {
  return [
    { id: 'latency-1k-floor', description: '1 KiB, 1 conn: faasflow p50 ≤ 1.5× floor', size: KiB, connections: 1, metric: 'p50', versus: 'floor', kind: 'max', limit: 1.5 },
    { id: 'throughput-1k-floor', description: '1 KiB, 32 conn: faasflow req/s ≥ 0.75× floor', size: KiB, connections: 32, metric: 'rps', versus: 'floor', kind: 'min', limit: 0.75 },
    { id: 'tail-1k-floor', description: '1 KiB, 32 conn: faasflow p99 ≤ 2× floor', size: KiB, connections: 32, metric: 'p99', versus: 'floor', kind: 'max', limit: 2 },
    { id: 'latency-1m-floor', description: '1 MiB, 1 conn: faasflow p50 ≤ 1.2× floor', size: MiB, connections: 1, metric: 'p50', versus: 'floor', kind: 'max', limit: 1.2 },
    { id: 'throughput-1m-floor', description: '1 MiB, 32 conn: faasflow req/s ≥ 1.0× floor', size: MiB, connections: 32, metric: 'rps', versus: 'floor', kind: 'min', limit: 1.0 },
    ...sizes.map((size): TargetSpec => ({
      id: `latency-${size}-copy`,
      description: `${sizeLabel(size)}, 1 conn: faasflow p50 ≤ 0.4× copy`,
      size,
      connections: 1,
      metric: 'p50',
      versus: 'copy',
      kind: 'max',
      limit: 0.4,
    })),
    { id: 'throughput-1k-copy', description: '1 KiB, 32 conn: faasflow req/s ≥ 2.5× copy', size: KiB, connections: 32, metric: 'rps', versus: 'copy', kind: 'min', limit: 2.5 },
  ];
}

/** Every target, with its ratio (faasflow ÷ reference) or null when a cell it needs is missing. */
export function evaluateTargets(summary: CellSummary[], sizes: number[]): TargetResult[] {
  const ratios = specs(sizes).map((s): TargetResult => {
    const ours = findCell(summary, 'faasflow', s.size, s.connections)?.[s.metric];
    const refCell = (s.versus === 'floor' && findCell(summary, 'cluster', s.size, s.connections)) || findCell(summary, s.versus, s.size, s.connections);
    const ref = refCell?.[s.metric];
    const ratio = ours !== undefined && ref !== undefined && Number.isFinite(ours) && Number.isFinite(ref) && ref > 0 ? ours / ref : null;
    const description = refCell?.setup === 'cluster' ? s.description.replace('floor', 'cluster floor') : s.description;
    return { id: s.id, description, ratio, limit: s.limit, kind: s.kind, met: judge(ratio, s.kind, s.limit), unit: '×' };
  });
  const gc = findCell(summary, 'faasflow', KiB, 32)?.gc;
  return [
    ...ratios,
    ...large(summary, sizes),
    ...noRegression(summary),
    { id: 'gc-share', description: '1 KiB, 32 conn: gateway GC ≤ 2 % of wall time', ratio: gc?.percent ?? null, limit: 2, kind: 'max', met: judge(gc?.percent ?? null, 'max', 2), unit: '%' },
    { id: 'gc-pause', description: '1 KiB, 32 conn: longest gateway GC pause ≤ 3 ms', ratio: gc?.maxPauseMs ?? null, limit: 3, kind: 'max', met: judge(gc?.maxPauseMs ?? null, 'max', 3), unit: 'ms' },
  ];
}

/** The large bodies (1 MiB, 5 MiB) at 32 connections, when the run measured them: every answer 2xx, packets at most twice the bytes they carry. */
function large(summary: CellSummary[], sizes: number[]): TargetResult[] {
  return [MiB, 5 * MiB].filter((s) => sizes.includes(s)).flatMap((size): TargetResult[] => {
    const c = findCell(summary, 'faasflow', size, 32);
    const label = sizeLabel(size);
    const non2xx = c ? c.non2xx : null;
    const held = c?.heldPerByte ?? null;
    return [
      { id: `non2xx-${size}-32`, description: `${label}, 32 conn: faasflow answers other than 2xx = 0`, ratio: non2xx, limit: 0, kind: 'max', met: judge(non2xx, 'max', 0), unit: 'n' },
      { id: `held-${size}-32`, description: `${label}, 32 conn: packet bytes held per body byte in flight ≤ 2`, ratio: held, limit: 2, kind: 'max', met: judge(held, 'max', 2), unit: '×' },
    ];
  });
}

const judge = (v: number | null, kind: 'max' | 'min', limit: number): boolean | null => (v === null ? null : kind === 'max' ? v <= limit : v >= limit);

export const verdict = (t: TargetResult): string => (t.met === null ? 'not measured' : t.met ? 'met' : 'MISSED');

/** With a baseline (a previous release) in the run: the three cells the product is known by stay within 5 %. */
function noRegression(summary: CellSummary[]): TargetResult[] {
  const cells: Array<[string, number, number, Metric, 'max' | 'min', number]> = [
    ['1 KiB, 1 conn: p50 ≤ 1.05× baseline', KiB, 1, 'p50', 'max', 1.05],
    ['1 KiB, 32 conn: req/s ≥ 0.95× baseline', KiB, 32, 'rps', 'min', 0.95],
    ['1 MiB, 1 conn: p50 ≤ 1.05× baseline', MiB, 1, 'p50', 'max', 1.05],
  ];
  return cells.flatMap(([description, size, connections, metric, kind, limit]) => {
    const base = findCell(summary, 'baseline', size, connections)?.[metric];
    const ours = findCell(summary, 'faasflow', size, connections)?.[metric];
    if (base === undefined) return [];
    const ratio = ours !== undefined && base > 0 ? ours / base : null;
    return [{ id: `baseline-${metric}-${size}-${connections}`, description, ratio, limit, kind, met: judge(ratio, kind, limit), unit: '×' as const }];
  });
}
