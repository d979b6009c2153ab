// The flows part of a snapshot: each flow's counters and end-to-end latency, and each of its
// steps' calls, from the stats rows the config gave them (from the top of the function stats
// table, written by the gateways). Kept between snapshots: what rates and recent latency need.
import { FunctionStats, H_TOTAL, HistogramSnapshot, counters, type Segment } from '../shm/index.js';
import type { FlowConfig } from '../config/types.js';
import { NOTHING, since, summarize } from './latency.js';
import type { FlowSnapshot, FlowStepSnapshot, ObserveEvent } from './types.js';

interface RowPrev {
  requests: number;
  errors: number;
  count: number;
  hist: HistogramSnapshot;
}

/** The rows flows use: never shown as functions. */
export function flowRows(flows: readonly FlowConfig[]): Set<number> {
  const rows = new Set<number>();
  for (const f of flows) {
    rows.add(f.statsId);
    for (const s of f.steps) for (const c of s.kind === 'call' ? [s.call] : s.branches) rows.add(c.statsId);
  }
  return rows;
}

export class FlowReader {
  private prev = new Map<number, RowPrev>();

  constructor(private readonly note: (level: ObserveEvent['level'], text: string) => void) {}

  reset(): void {
    this.prev = new Map();
  }

  read(seg: Segment, flows: readonly FlowConfig[], intervalS: number | null): FlowSnapshot[] {
    const fs = new FunctionStats(seg);
    const seen = new Map<number, RowPrev>();
    const row = (id: number) => {
      if (id < 0 || id >= seg.layout.maxFunctions) return null;
      const requests = fs.get(id, counters.FN_REQUESTS);
      const status = { '2xx': fs.get(id, counters.FN_2XX), '4xx': fs.get(id, counters.FN_4XX), '5xx': fs.get(id, counters.FN_5XX) };
      const errors = status['4xx'] + status['5xx'];
      const prev = this.prev.get(id);
      // A histogram whose count has not moved is the one read last time (snapshot-functions.ts).
      const count = fs.histogramCount(id, H_TOTAL);
      const same = prev !== undefined && prev.count === count;
      const hist = same ? prev.hist : fs.histogram(id, H_TOTAL);
      seen.set(id, { requests, errors, count, hist });
      return {
        requests,
        rps: prev && intervalS ? Math.max(0, requests - prev.requests) / intervalS : null,
        status,
        errors,
        newErrors: prev ? errors - prev.errors : 0,
        latencyUs: summarize(hist),
        recentLatencyUs: prev ? summarize(same ? NOTHING : since(hist, prev.hist)) : null,
      };
    };
    const out: FlowSnapshot[] = [];
    for (const f of flows) {
      const r = row(f.statsId);
      if (!r) continue;
      const steps: FlowStepSnapshot[] = [];
      f.steps.forEach((s, index) => {
        const calls = s.kind === 'call' ? [s.call] : s.branches;
        for (const c of calls) {
          const sr = row(c.statsId);
          if (!sr) continue;
          const { newErrors: _, ...rest } = sr;
          steps.push({ index, row: c.statsId, name: c.name, functionId: c.functionId, parallel: s.kind === 'parallel', ...rest });
        }
      });
      if (r.newErrors > 0) this.note('error', `flow ${f.name}: +${r.newErrors} error(s); totals 4xx ${r.status['4xx']} 5xx ${r.status['5xx']}`);
      const { newErrors: _, ...rest } = r;
      out.push({
        name: f.name,
        row: f.statsId,
        ...rest,
        inflight: fs.get(f.statsId, counters.FN_INFLIGHT),
        bytesIn: fs.get(f.statsId, counters.FN_BYTES_IN),
        bytesOut: fs.get(f.statsId, counters.FN_BYTES_OUT),
        copies: fs.get(f.statsId, counters.FN_COPIES),
        copiedBytes: fs.get(f.statsId, counters.FN_COPIED_BYTES),
        steps,
      });
    }
    this.prev = seen;
    return out;
  }
}
