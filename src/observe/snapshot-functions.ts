// The functions part of a snapshot: each function's counters and stage latencies from the runtime
// segment (all-time and since the previous snapshot), and its handlers' own times from the
// containers' records in the domain segments. Kept between snapshots: what rates need, and the
// histograms last read, which are not read again while their counts stand still (a copy is 3.6
// KiB; an idle function has five of them).
import { FunctionStats, H_CONTAINER, H_QUEUE, H_REPLY, H_TOTAL, HistogramSnapshot, counters, type ProcEntry, type Segment } from '../shm/index.js';
import type { InstanceView } from './instance.js';
import { NOTHING, merge, since, summarize } from './latency.js';
import type { FunctionSnapshot, ObserveEvent, StageLatency } from './types.js';

const H_STAGES = [H_TOTAL, H_QUEUE, H_CONTAINER, H_REPLY] as const;

interface FnPrev {
  requests: number;
  errors: number;
  counts: number[];
  hist: HistogramSnapshot[];
}

type HandlerTimes = Map<number, { all: HistogramSnapshot; recent: HistogramSnapshot }>;

/** A histogram as last read, and the count it had then. */
interface Read {
  count: number;
  h: HistogramSnapshot;
}

export class FunctionReader {
  private prev = new Map<number, FnPrev>();
  /** Each process's handler histogram at the previous snapshot, by pid. */
  private handlerPrev = new Map<number, Read>();

  constructor(private readonly note: (level: ObserveEvent['level'], text: string) => void) {}

  /** A new instance (another segment): nothing from the old one counts. */
  reset(): void {
    this.prev = new Map();
  }

  /** `skip`: the rows flows use (read by snapshot-flows.ts). */
  read(view: InstanceView, seg: Segment, procs: ProcEntry[], intervalS: number | null, names: Map<number, string>, skip: ReadonlySet<number> = new Set()): FunctionSnapshot[] {
    const handler = this.handlerTimes(view, procs);
    const fs = new FunctionStats(seg);
    const wanted = new Set<number>([...names.keys(), ...procs.filter((p) => p.role === 'container').map((p) => p.functionId)]);
    const out: FunctionSnapshot[] = [];
    const seen = new Map<number, FnPrev>();
    for (let id = 0; id < seg.layout.maxFunctions; id++) {
      const requests = fs.get(id, counters.FN_REQUESTS);
      const inflight = fs.get(id, counters.FN_INFLIGHT);
      if (skip.has(id) || (!wanted.has(id) && requests === 0 && inflight === 0)) continue;
      const prev = this.prev.get(id);
      const counts = H_STAGES.map((h) => fs.histogramCount(id, h));
      const same = prev !== undefined && counts.every((c, i) => c === prev.counts[i]);
      const hist = same ? prev.hist : H_STAGES.map((h) => fs.histogram(id, h));
      const mine = procs.filter((p) => p.role === 'container' && p.functionId === id);
      const status = { '2xx': fs.get(id, counters.FN_2XX), '4xx': fs.get(id, counters.FN_4XX), '5xx': fs.get(id, counters.FN_5XX) };
      const errors = status['4xx'] + status['5xx'];
      const h = handler.get(id);
      const f: FunctionSnapshot = {
        id,
        name: names.get(id) ?? null,
        requests,
        rps: prev && intervalS ? Math.max(0, requests - prev.requests) / intervalS : null,
        status,
        errors,
        rejected: fs.get(id, counters.FN_REJECTED),
        memoryWaits: fs.get(id, counters.FN_MEM_WAITS),
        memoryRefused: fs.get(id, counters.FN_MEM_REFUSED),
        timeouts: fs.get(id, counters.FN_TIMEOUTS),
        inflight,
        queued: fs.get(id, counters.FN_QUEUED),
        replicas: mine.filter((p) => p.state === 'ready').length,
        replicasDesired: mine.filter((p) => p.state === 'ready' || p.state === 'starting').length,
        bytesIn: fs.get(id, counters.FN_BYTES_IN),
        bytesOut: fs.get(id, counters.FN_BYTES_OUT),
        latencyUs: stages(hist, h?.all),
        recentLatencyUs: prev ? stages(same ? [NOTHING, NOTHING, NOTHING, NOTHING] : hist.map((x, i) => since(x, prev.hist[i])), h?.recent) : null,
      };
      if (prev && errors > prev.errors) {
        const label = f.name ? `${id} ${f.name}` : `${id}`;
        this.note('error', `fn ${label}: +${errors - prev.errors} error(s); totals 4xx ${status['4xx']} 5xx ${status['5xx']} (timeouts ${f.timeouts}, rejected ${f.rejected})`);
      }
      seen.set(id, { requests, errors, counts, hist });
      out.push(f);
    }
    this.prev = seen;
    return out;
  }

  /** Handler histograms of each function's live containers, all-time and since the previous snapshot. */
  private handlerTimes(view: InstanceView, procs: ProcEntry[]): HandlerTimes {
    const byFn = new Map<number, { all: HistogramSnapshot; recent: HistogramSnapshot }[]>();
    const seen = new Map<number, Read>();
    for (const p of procs) {
      if (p.role !== 'container') continue;
      const ps = view.statsOf(p);
      if (!ps) continue;
      const prev = this.handlerPrev.get(p.pid);
      const count = ps.histogramCount();
      const h = prev && prev.count === count ? prev.h : ps.histogram();
      // A process first seen now (or whose record was reset) contributes all it has recorded.
      const recent = prev === undefined || prev.h.count > h.count ? h : prev.h === h ? NOTHING : since(h, prev.h);
      byFn.set(p.functionId, [...(byFn.get(p.functionId) ?? []), { all: h, recent }]);
      seen.set(p.pid, { count, h });
    }
    this.handlerPrev = seen;
    const out: HandlerTimes = new Map();
    for (const [id, list] of byFn) {
      // One replica (the usual case): its histograms as they are, read-only from here on.
      if (list.length === 1) {
        out.set(id, list[0]);
        continue;
      }
      const f = { all: new HistogramSnapshot(), recent: new HistogramSnapshot() };
      for (const x of list) {
        merge(f.all, x.all);
        merge(f.recent, x.recent);
      }
      out.set(id, f);
    }
    return out;
  }
}

function stages(hs: HistogramSnapshot[], handler: HistogramSnapshot | undefined): StageLatency {
  return { total: summarize(hs[0]), queue: summarize(hs[1]), container: summarize(hs[2]), reply: summarize(hs[3]), handler: summarize(handler ?? NOTHING) };
}
