// The bar issue 6 sets, as ratios between setups measured in the same run.
import { sizeLabel } from './options.js';
import { findCell } from './summary.js';
import type { CellSummary, TargetResult } from './types.js';

const KiB = 1024;
const MiB = 1024 * KiB;

type Metric = 'p50' | 'rps';

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
    { id: 'throughput-1k-floor', description: '1 KiB, 32 conn: faasflow req/s ≥ 0.7× floor', size: KiB, connections: 32, metric: 'rps', versus: 'floor', kind: 'min', limit: 0.7 },
    { id: 'throughput-1k-copy', description: '1 KiB, 32 conn: faasflow req/s ≥ 2.5× copy', size: KiB, connections: 32, metric: 'rps', versus: 'copy', kind: 'min', limit: 2.5 },
    { id: 'latency-1m-floor', description: '1 MiB, 1 conn: faasflow p50 ≤ 1.3× floor', size: MiB, connections: 1, metric: 'p50', versus: 'floor', kind: 'max', limit: 1.3 },
  ];
}

/** Every target, with its ratio (faasflow ÷ reference) or null when a cell it needs is missing. */
export function evaluateTargets(summary: CellSummary[], sizes: number[]): TargetResult[] {
  return specs(sizes).map((s) => {
    const ours = findCell(summary, 'faasflow', s.size, s.connections)?.[s.metric];
    const ref = findCell(summary, s.versus, s.size, s.connections)?.[s.metric];
    const ratio = ours !== undefined && ref !== undefined && Number.isFinite(ours) && Number.isFinite(ref) && ref > 0 ? ours / ref : null;
    const met = ratio === null ? null : s.kind === 'max' ? ratio <= s.limit : ratio >= s.limit;
    return { id: s.id, description: s.description, ratio, limit: s.limit, kind: s.kind, met };
  });
}

export const verdict = (t: TargetResult): string => (t.met === null ? 'not measured' : t.met ? 'met' : 'MISSED');
