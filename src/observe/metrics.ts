// Prometheus text for GET /metrics, made by prom-client from a snapshot. A fresh Registry per
// scrape: the numbers live in the segment, so there is no state to keep in metric objects.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { bucketLow, HistogramSnapshot, FunctionStats, ProcessTable, H_CONTAINER, H_QUEUE, H_REPLY, H_TOTAL } from '../shm/index.js';
import { FN_REQUESTS } from '../shm/constants.js';
import type { InstanceView } from './instance.js';
import { UNKNOWN_FUNCTION_ROW } from './access.js';
import { Observer, type ObserveOptions, type Snapshot } from './snapshot.js';

/** Fixed bucket bounds (seconds): 50 µs to 1 min, the range a request through faasflow can take. */
export const LATENCY_BOUNDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Cumulative counts at LATENCY_BOUNDS from a log-linear histogram. A log-linear bucket counts
 * toward bound b when its lowest value is ≤ b: every value ≤ b is counted, and a value above b
 * only when it shares b's bucket (within ~6 %, the histogram's own precision).
 */
export function cumulativeBuckets(h: HistogramSnapshot, boundsS = LATENCY_BOUNDS): number[] {
  const out = new Array<number>(boundsS.length).fill(0);
  for (let i = 0; i < h.buckets.length; i++) {
    const c = h.buckets[i];
    if (c === 0) continue;
    const low = bucketLow(i);
    for (let b = 0; b < boundsS.length; b++) if (low <= boundsS[b] * 1e6) out[b] += c;
  }
  return out;
}

type Labels = Record<string, string>;

/**
 * A histogram whose buckets were counted elsewhere (in the segment). prom-client's Histogram only
 * counts observations one at a time, so this one answers its exporter with the counts it is given
 * and leaves the text format to the library.
 */
class CountedHistogram extends Histogram<string> {
  private readonly series: { labels: Labels; h: HistogramSnapshot }[] = [];

  constructor(
    private readonly metricName: string,
    private readonly helpText: string,
    labelNames: string[],
    registry: Registry,
  ) {
    super({ name: metricName, help: helpText, labelNames, buckets: LATENCY_BOUNDS, registers: [registry] });
  }

  add(labels: Labels, h: HistogramSnapshot): void {
    this.series.push({ labels, h });
  }

  /** What the registry renders (it prefers this to get(), and Histogram.get() calls it too). */
  async getForPromString() {
    const name = this.metricName;
    const values = this.series.flatMap(({ labels, h }) => {
      const cum = cumulativeBuckets(h);
      return [
        ...LATENCY_BOUNDS.map((le, i) => ({ labels: { ...labels, le }, value: cum[i], metricName: `${name}_bucket` })),
        { labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` },
        { labels, value: h.sum / 1e6, metricName: `${name}_sum` },
        { labels, value: h.count, metricName: `${name}_count` },
      ];
    });
    return { name, help: this.helpText, type: 'histogram', values, aggregator: 'sum' };
  }
}

const STAGES = [
  ['total', H_TOTAL],
  ['queue', H_QUEUE],
  ['container', H_CONTAINER],
  ['reply', H_REPLY],
] as const;

/** Renders `snap` (plus the histograms read from the instance's segments) as Prometheus text. */
export async function metricsFromSnapshot(snap: Snapshot, view: InstanceView | null): Promise<{ contentType: string; body: string }> {
  const reg = new Registry();
  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers: [reg] });
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [reg] });

  const fnLabels = ['function', 'name'];
  const requests = counter('faasflow_requests_total', 'Requests answered per function.', fnLabels);
  const responses = counter('faasflow_responses_total', 'Responses per function and HTTP status class.', [...fnLabels, 'class']);
  const rejected = counter('faasflow_rejected_total', 'Requests refused with 503 (packet memory or queue exhausted).', fnLabels);
  const memWaits = counter('faasflow_memory_waits_total', 'Requests (calls, flow steps) that found their domain short of packet memory and waited for it.', fnLabels);
  const memRefused = counter('faasflow_memory_refusals_total', 'Requests refused for packet memory: 503 after segment.wait, or 413 for a body that can never fit.', fnLabels);
  const timeouts = counter('faasflow_timeouts_total', 'Requests whose handler timed out (504).', fnLabels);
  const bytesIn = counter('faasflow_request_bytes_total', 'Request body bytes received.', fnLabels);
  const bytesOut = counter('faasflow_response_bytes_total', 'Response body bytes sent.', fnLabels);
  const inflight = gauge('faasflow_requests_in_flight', 'Requests being handled now.', fnLabels);
  const queued = gauge('faasflow_requests_queued', 'Requests waiting for a free replica now.', fnLabels);
  const replicas = gauge('faasflow_replicas', 'Container processes of the function that serve now (ready).', fnLabels);
  const desired = gauge('faasflow_replicas_desired', 'Container processes the function should have now (starting or ready): its fixed count, or what the scaler decided (functions[].scale).', fnLabels);
  const latency = new CountedHistogram('faasflow_request_duration_seconds', 'Request latency per function and stage: total (gateway in to reply out), queue (waiting for a replica), container (descriptor out to reply in).', [...fnLabels, 'stage'], reg);
  // Per pid: a replica being replaced and its replacement run side by side under one replica number.
  const handler = new CountedHistogram('faasflow_handler_duration_seconds', 'Time in the handler per container process, since it started.', [...fnLabels, 'replica', 'pid'], reg);
  const fs = view ? new FunctionStats(view.runtime) : null;
  for (const f of snap.functions) {
    const l = { function: String(f.id), name: f.name ?? '' };
    requests.inc(l, f.requests);
    for (const cls of ['2xx', '4xx', '5xx'] as const) responses.inc({ ...l, class: cls }, f.status[cls]);
    rejected.inc(l, f.rejected);
    memWaits.inc(l, f.memoryWaits);
    memRefused.inc(l, f.memoryRefused);
    timeouts.inc(l, f.timeouts);
    bytesIn.inc(l, f.bytesIn);
    bytesOut.inc(l, f.bytesOut);
    inflight.set(l, f.inflight);
    queued.set(l, f.queued);
    replicas.set(l, f.replicas);
    desired.set(l, f.replicasDesired);
    if (fs) for (const [stage, h] of STAGES) latency.add({ ...l, stage }, fs.histogram(f.id, h));
  }

  if (fs) counter('faasflow_unknown_function_total', 'Requests for a function that does not exist (answered 404).').inc(fs.get(UNKNOWN_FUNCTION_ROW, FN_REQUESTS));
  if (snap.flows.length) flowMetrics(snap, fs, counter, gauge, reg);

  const procLabels = ['pid', 'role', 'function', 'replica'];
  const mem = {
    rss: gauge('faasflow_process_resident_memory_bytes', 'Resident set size (RSS) per process.', procLabels),
    pss: gauge('faasflow_process_proportional_memory_bytes', 'Proportional set size (PSS) per process.', procLabels),
    priv: gauge('faasflow_process_private_memory_bytes', 'Resident memory of the process alone, the shared segment excluded: what memoryLimit applies to.', procLabels),
    shared: gauge('faasflow_process_shared_memory_bytes', 'Resident memory shared with other processes (libraries, the segment).', procLabels),
    shm: gauge('faasflow_process_shm_mapped_bytes', 'Resident bytes of the faasflow segment in this process.', procLabels),
  };
  const cpu = counter('faasflow_process_cpu_seconds_total', 'User + system CPU time per process.', procLabels);
  const polls = counter('faasflow_process_polls_total', 'Waits for an answer (config spinMicros): polled and answered, polled and timed out, or parked in epoll without polling.', [...procLabels, 'result']);
  const pollSeconds = counter('faasflow_process_poll_seconds_total', 'CPU time spent polling for answers (part of the process CPU time).', procLabels);
  const slope = gauge('faasflow_process_private_memory_slope_bytes_per_second', 'Trend of private memory over recent samples.', procLabels);
  const leak = gauge('faasflow_process_memory_leak_suspected', '1 when private memory rises steadily (likely leak).', procLabels);
  const up = gauge('faasflow_process_up', '1 when the registered process is alive and ready.', [...procLabels, 'state']);
  const restarts = counter('faasflow_process_restarts_total', 'Restarts of the process in this slot (role, function, replica).', ['role', 'function', 'replica']);
  // The supervisor's counts of each replica's output lines, carried over its restarts like restarts.
  const logLines = counter('faasflow_log_lines_total', 'Lines of a process\'s output the supervisor did not log whole, since the replica first started: action "cut" (at logs.maxLine, the rest of the line dropped) or "dropped" (over logs.rate, or the log file\'s write queue full).', ['role', 'function', 'replica', 'action']);
  // A replica's slot may briefly appear twice (old pid draining, new one starting): one series each.
  const byReplica = new Map<string, { l: Labels; n: number; cut: number; dropped: number }>();
  for (const p of snap.processes) {
    const l = { pid: String(p.pid), role: p.role, function: String(p.functionId), replica: String(p.replica) };
    up.set({ ...l, state: p.state }, p.alive && p.state === 'ready' ? 1 : 0);
    const r = { role: p.role, function: String(p.functionId), replica: String(p.replica) };
    const key = `${r.role}/${r.function}/${r.replica}`;
    const had = byReplica.get(key);
    byReplica.set(key, { l: r, n: Math.max(p.restarts, had?.n ?? 0), cut: Math.max(p.logs.cut, had?.cut ?? 0), dropped: Math.max(p.logs.dropped, had?.dropped ?? 0) });
    // The supervisor never polls: no series of zeros for it.
    if (p.alive && p.role !== 'supervisor') {
      polls.inc({ ...l, result: 'answered' }, p.polling.answered);
      polls.inc({ ...l, result: 'timed_out' }, p.polling.timedOut);
      polls.inc({ ...l, result: 'parked' }, p.polling.parked);
      pollSeconds.inc(l, p.polling.seconds);
    }
    if (!p.memory) continue;
    mem.rss.set(l, p.memory.rss);
    mem.pss.set(l, p.memory.pss);
    mem.priv.set(l, p.memory.privateBytes);
    mem.shared.set(l, p.memory.sharedBytes);
    mem.shm.set(l, p.memory.shmBytes);
    cpu.inc(l, p.memory.cpuTime);
    slope.set(l, p.trend.slopeBytesPerS);
    leak.set(l, p.leak ? 1 : 0);
  }
  for (const { l, n, cut, dropped } of byReplica.values()) {
    restarts.inc(l, n);
    if (l.role === 'supervisor') continue;
    logLines.inc({ ...l, action: 'cut' }, cut);
    logLines.inc({ ...l, action: 'dropped' }, dropped);
  }
  if (view) {
    const names = new Map(snap.functions.map((f) => [f.id, f.name ?? '']));
    const entries = new Map(new ProcessTable(view.runtime).entries().map((e) => [e.pid, e]));
    for (const p of snap.processes) {
      const e = entries.get(p.pid);
      const h = e && p.role === 'container' && p.alive ? view.statsOf(e)?.histogram() : undefined;
      if (h) handler.add({ function: String(p.functionId), name: names.get(p.functionId) ?? '', replica: String(p.replica), pid: String(p.pid) }, h);
    }
  }

  const cls = ['class'];
  const pool = {
    capacity: gauge('faasflow_pool_packets', 'Packets per size class.', cls),
    inUse: gauge('faasflow_pool_packets_in_use', 'Packets allocated now per size class.', cls),
    high: gauge('faasflow_pool_packets_high_water', 'Most packets ever allocated at once per size class.', cls),
    bytes: gauge('faasflow_pool_bytes_in_use', 'Payload bytes in allocated packets per size class.', cls),
    touched: gauge('faasflow_pool_resident_bytes', 'Bytes of the class arena backed by memory.', cls),
  };
  for (const c of snap.pool) {
    const l = { class: String(c.size) };
    pool.capacity.set(l, c.count);
    pool.inUse.set(l, c.inUse);
    pool.high.set(l, c.highWater);
    pool.bytes.set(l, c.bytesInUse);
    pool.touched.set(l, c.touched);
  }
  const domainLabels = ['domain', 'class'];
  const domainInUse = gauge('faasflow_domain_packets_in_use', 'Packets allocated now per security domain and size class.', domainLabels);
  const domainPackets = gauge('faasflow_domain_packets', 'Packets per security domain and size class.', domainLabels);
  const domainHeld = gauge('faasflow_domain_packet_bytes_in_use', 'Bytes of the packets held now per security domain and size class (what they take of its budget).', domainLabels);
  const domainTouched = gauge('faasflow_domain_segment_touched_bytes', 'Bytes of a domain segment (a memfd) memory really holds.', ['domain']);
  const dl = ['domain'];
  const budget = gauge('faasflow_domain_budget_bytes', 'Bytes of packets a domain may hold at once (its share of segment.size).', dl);
  const held = gauge('faasflow_domain_held_bytes', 'Bytes of the packets a domain holds now.', dl);
  const free = gauge('faasflow_domain_free_bytes', 'Budget a domain has free now.', dl);
  const waits = counter('faasflow_domain_memory_waits_total', 'Allocations in a domain that found it short of packet memory and waited (gateways and its containers).', dl);
  const refusals = counter('faasflow_domain_memory_refusals_total', 'Allocations in a domain refused for packet memory.', dl);
  const sandboxed = gauge('faasflow_domain_sandboxed', '1 per isolation mechanism a domain\'s containers run under (uid, landlock); none when it has none.', ['domain', 'mechanism']);
  const spares = gauge('faasflow_spares', 'Warm spares a domain holds now: processes started and sandboxed as its replicas, no function loaded yet (functions[].scale.spares).', dl);
  for (const d of snap.domains) {
    spares.set({ domain: d.name }, snap.processes.filter((p) => p.role === 'spare' && p.alive && p.domain === d.name).length);
    for (const c of d.pool) {
      domainInUse.set({ domain: d.name, class: String(c.size) }, c.inUse);
      domainPackets.set({ domain: d.name, class: String(c.size) }, c.count);
      domainHeld.set({ domain: d.name, class: String(c.size) }, c.packetBytes);
    }
    const dm = { domain: d.name };
    budget.set(dm, d.memory.budget);
    held.set(dm, d.memory.held);
    free.set(dm, d.memory.free);
    waits.inc(dm, d.memory.waits);
    refusals.inc(dm, d.memory.refusals);
    domainTouched.set({ domain: d.name }, d.segment.touched);
    for (const m of (d.enforcement ?? '').split('+').filter((x) => x === 'uid' || x === 'landlock')) sandboxed.set({ domain: d.name, mechanism: m }, 1);
  }

  gauge('faasflow_dev_shm_size_bytes', 'Size of the /dev/shm filesystem.').set(snap.shm.total);
  gauge('faasflow_dev_shm_used_bytes', 'Bytes used in /dev/shm (all files, not only faasflow).').set(snap.shm.used);
  gauge('faasflow_dev_shm_available_bytes', 'Bytes still available in /dev/shm.').set(snap.shm.available);
  gauge('faasflow_dev_shm_warning', `1 when /dev/shm is fuller than the warning threshold (${snap.shm.warnPercent} %).`).set(snap.shm.warn ? 1 : 0);
  if (snap.segment) {
    gauge('faasflow_segment_size_bytes', 'Size of the instance segment (a ceiling: tmpfs allocates lazily).').set(snap.segment.size);
    gauge('faasflow_segment_touched_bytes', 'Bytes of the segment tmpfs really holds.').set(snap.segment.touched);
    gauge('faasflow_segment_holders', 'Processes mapping the segment.').set(snap.segment.holders.length);
  }
  return { contentType: reg.contentType, body: await reg.metrics() };
}

type Make = (name: string, help: string, labelNames?: string[]) => Counter | Gauge;

/** Flows: requests and statuses, in flight, copies across domains, latency of the flow and of each step. */
function flowMetrics(snap: Snapshot, fs: FunctionStats | null, counter: Make, gauge: Make, reg: Registry): void {
  const requests = counter('faasflow_flow_requests_total', 'Flow requests answered.', ['flow']) as Counter;
  const responses = counter('faasflow_flow_responses_total', 'Flow responses per HTTP status class.', ['flow', 'class']) as Counter;
  const inflight = gauge('faasflow_flow_requests_in_flight', 'Flow requests running now.', ['flow']) as Gauge;
  const copies = counter('faasflow_flow_copies_total', 'Packets the gateway copied for a flow from one domain into another.', ['flow']) as Counter;
  const copied = counter('faasflow_flow_copied_bytes_total', 'Bytes the gateway copied for a flow from one domain into another (inside a domain a packet goes on uncopied).', ['flow']) as Counter;
  const duration = new CountedHistogram('faasflow_flow_duration_seconds', 'Flow latency: step="" the whole flow (request in to reply out), else each step ("<index>.<function>") from its call to its reply.', ['flow', 'step'], reg);
  for (const f of snap.flows) {
    const l = { flow: f.name };
    requests.inc(l, f.requests);
    for (const cls of ['2xx', '4xx', '5xx'] as const) responses.inc({ ...l, class: cls }, f.status[cls]);
    inflight.set(l, f.inflight);
    copies.inc(l, f.copies);
    copied.inc(l, f.copiedBytes);
    if (!fs) continue;
    duration.add({ ...l, step: '' }, fs.histogram(f.row, H_TOTAL));
    for (const s of f.steps) duration.add({ ...l, step: `${s.index}.${s.name}` }, fs.histogram(s.row, H_TOTAL));
  }
}

const observers = new WeakMap<InstanceView, Observer>();

export interface MetricsOptions extends ObserveOptions {
  /** The config's `observe.shmWarnPercent`: the /dev/shm warning threshold (default 80). */
  shmWarnPercent?: number;
}

/**
 * Prometheus text for an instance. Scrapes of the same view share one Observer, so CPU
 * counters and memory trends carry over from scrape to scrape. Meant to run inside the gateway:
 * /proc/<pid>/smaps and /proc/*\/maps are read off the event loop (a full sample per process at
 * most every 5 s, holders every minute), so a scrape blocks request handling only for the few
 * milliseconds of building the text.
 */
export async function renderMetrics(source: InstanceView | (() => InstanceView), opts: MetricsOptions = {}): Promise<{ contentType: string; body: string }> {
  // A function gives the view as it is after the await: the segments may change meanwhile (a
  // domain rebuilt by the supervisor is unmapped), and the snapshot must read the current ones.
  const current = typeof source === 'function' ? source : () => source;
  await observerFor(current(), opts).prefetch(current());
  const view = current();
  return metricsFromSnapshot(observerFor(view, opts).snapshot(view, view.name), view);
}

function observerFor(view: InstanceView, opts: MetricsOptions): Observer {
  let o = observers.get(view);
  if (!o) {
    o = new Observer({ holdersMs: 60_000, fullSampleMs: 5000, ...opts, syncProc: false });
    observers.set(view, o);
  }
  if (opts.functionNames) o.functionNames = opts.functionNames;
  if (opts.flows) o.flows = opts.flows;
  if (opts.shmWarnPercent !== undefined) o.shmWarnPercent = opts.shmWarnPercent;
  return o;
}
