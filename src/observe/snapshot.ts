// One typed picture of an instance, built from its segments (mapped read-only) and /proc, without
// asking any faasflow process anything. `top` renders it, `top --once --json` prints it,
// /metrics converts it. An Observer keeps what rates and trends need between snapshots.
import type { ChildStatus } from '../control/protocol.js';
import { FunctionStats, H_CONTAINER, H_QUEUE, H_REPLY, H_TOTAL, HistogramSnapshot, ProcessTable, Segment, counters, pidAlive, type ClassUsage, type ProcEntry } from '../shm/index.js';
import { enforcementName } from '../sys/sandbox.js';
import type { InstanceView } from './instance.js';
import { merge, since, summarize } from './latency.js';
import { CpuMeter, MemoryTrend, sampleMemory, sampleMemoryAsync, sampleQuick, type MemorySample, type TrendOptions } from './memory.js';
import { commandLine, scanHolders, scanHoldersAsync, segmentPath, type MappedBy } from './procfs.js';
import type { DomainSnapshot, FunctionSnapshot, ObserveEvent, PoolClassSnapshot, ProcessSnapshot, SegmentInfo, Snapshot, StageLatency } from './types.js';

export type * from './types.js';

export interface ObserveOptions {
  /** Warn when /dev/shm is fuller than this (default 80). */
  shmWarnPercent?: number;
  /** Names for function ids (from the config); ids without one show as null. */
  functionNames?: Map<number, string>;
  /** A full /proc/<pid>/smaps sample per process at most this often (ms; 0 = every snapshot). */
  fullSampleMs?: number;
  /** Rescan /proc/*\/maps for segment holders at most this often (ms; 0 = every snapshot). */
  holdersMs?: number;
  /**
   * Whether snapshot() itself reads /proc/<pid>/smaps and scans /proc/*\/maps when a sample is due
   * (default true: `top`). false: only prefetch() does, off the event loop, for a process that
   * serves requests while it observes (the gateway's /metrics); snapshot() then uses what the
   * last prefetch() gathered.
   */
  syncProc?: boolean;
  trend?: TrendOptions;
  /** Recent events kept. */
  keepEvents?: number;
}

const H_STAGES = [
  ['total', H_TOTAL],
  ['queue', H_QUEUE],
  ['container', H_CONTAINER],
  ['reply', H_REPLY],
] as const;

const ROLE_ORDER = ['supervisor', 'gateway', 'container', 'none'];

interface FnPrev {
  requests: number;
  errors: number;
  hist: HistogramSnapshot[];
}

interface ProcPrev {
  state: string;
  leak: boolean;
}

/** What the supervisor's state file says about a process (ChildStatus), as far as a snapshot uses it. */
export type ChildRecord = Pick<ChildStatus, 'pid' | 'role' | 'functionId' | 'replica' | 'restarts' | 'lastExit'>;

export class Observer {
  private readonly o: Required<Omit<ObserveOptions, 'trend'>> & { trend: TrendOptions };
  private readonly cpu = new CpuMeter();
  private readonly pollCpu = new CpuMeter();
  private readonly trends = new Map<number, MemoryTrend>();
  private readonly full = new Map<number, MemorySample>();
  private fnPrev = new Map<number, FnPrev>();
  /** State and leak flag of each registered pid at the previous snapshot. */
  private procPrev = new Map<number, ProcPrev>();
  /** Highest restart count seen per role/function/replica (a replica being replaced is listed twice). */
  private restartsSeen = new Map<string, number>();
  private children: readonly ChildRecord[] = [];
  private prefetching: Promise<void> | null = null;
  /** Each process's handler histogram at the previous snapshot, by pid. */
  private handlerPrev = new Map<number, HistogramSnapshot>();
  private readonly events: ObserveEvent[] = [];
  /** The last holder scan of the instance's segments (key: their names), by segment name. */
  private holders: { at: number; key: string; by: Map<string, (MappedBy & { command: string })[]> } = { at: 0, key: '', by: new Map() };
  private lastAt = 0;
  private segKey = '';
  private attached = false;
  private shmWarned = false;

  constructor(o: ObserveOptions = {}) {
    this.o = { shmWarnPercent: 80, functionNames: new Map(), fullSampleMs: 0, holdersMs: 0, syncProc: true, keepEvents: 100, trend: {}, ...o };
  }

  set functionNames(names: Map<number, string>) {
    this.o.functionNames = names;
  }

  set shmWarnPercent(p: number) {
    this.o.shmWarnPercent = p;
  }

  /**
   * The supervisor's record of its children (`children` of state.json in the runtime directory):
   * where `lastExit`, why a process last exited, comes from. Empty when there is none to read.
   */
  set supervisorChildren(list: readonly ChildRecord[]) {
    this.children = list;
  }

  /**
   * Takes the due full memory samples and the holder scan with the reads off the event loop, so
   * the next snapshot() finds them fresh without blocking. Concurrent calls share one pass.
   */
  prefetch(view: InstanceView | null): Promise<void> {
    this.prefetching ??= this.prefetchNow(view).finally(() => (this.prefetching = null));
    return this.prefetching;
  }

  private async prefetchNow(view: InstanceView | null): Promise<void> {
    if (!view) return;
    const now = Date.now();
    const pids = new ProcessTable(view.runtime).entries().map((e) => e.pid).filter((pid) => pidAlive(pid) && this.fullDue(pid, now));
    const names = view.segmentNames();
    const key = names.join(',');
    const holders = this.holdersDue(key, now) ? scanHoldersAsync(names, { exclude: [process.pid] }) : null;
    // Two processes at a time: the scrape finishes sooner without taking the whole thread pool.
    let next = 0;
    const worker = async () => {
      while (next < pids.length) {
        const m = await sampleMemoryAsync(pids[next++]);
        if (m) this.recordFull(m);
      }
    };
    await Promise.all([worker(), worker()]);
    if (holders) this.keepHolders(now, key, names, await holders);
  }

  private keepHolders(at: number, key: string, names: string[], found: Map<string, MappedBy[]>): void {
    this.holders = { at, key, by: new Map(names.map((n) => [n, (found.get(n) ?? []).map((h) => ({ ...h, command: commandLine(h.pid) }))])) };
  }

  private fullDue(pid: number, now: number): boolean {
    const last = this.full.get(pid);
    return !last || now - last.at >= this.o.fullSampleMs;
  }

  private holdersDue(key: string, now: number): boolean {
    return this.holders.key !== key || now - this.holders.at >= this.o.holdersMs;
  }

  private recordFull(m: MemorySample): void {
    this.full.set(m.pid, m);
    this.trend(m.pid).add(m.at, m.privateBytes);
  }

  /** Adds an event (for sources the observer does not see itself, like error log lines). */
  note(level: ObserveEvent['level'], text: string, at = Date.now()): void {
    this.events.push({ at: new Date(at).toISOString(), level, text });
    if (this.events.length > this.o.keepEvents) this.events.splice(0, this.events.length - this.o.keepEvents);
  }

  /** A snapshot of the instance `view` shows, or of an absent instance (null, with the reason) while waiting. */
  snapshot(view: InstanceView | null, instance: string, reason: string | null = null): Snapshot {
    const now = Date.now();
    const mono = performance.now();
    const intervalS = this.lastAt > 0 ? (mono - this.lastAt) / 1000 : null;
    this.lastAt = mono;
    const seg = view?.runtime ?? null;
    const key = seg ? `${seg.name}@${seg.header.createdAt}` : '';
    if (key !== this.segKey) {
      if (this.segKey && !key) this.note('error', `instance ${instance} went away (its segment is gone)`);
      else if (seg) this.note('info', `${this.attached ? 'instance is back' : 'attached'}: ${seg.name}, creator pid ${seg.header.creatorPid}`);
      this.attached ||= key !== '';
      this.segKey = key;
      this.fnPrev = new Map();
      this.procPrev = new Map();
      this.restartsSeen = new Map();
    }
    const snap: Snapshot = {
      schema: 1,
      takenAt: new Date(now).toISOString(),
      intervalS,
      instance: seg?.header.name ?? instance,
      status: seg ? 'running' : 'waiting',
      reason: seg ? null : (reason ?? 'waiting for instance'),
      segment: null,
      shm: this.shm(),
      domains: [],
      functions: [],
      pool: [],
      processes: [],
      events: [],
    };
    if (view && seg) {
      const procs = new ProcessTable(seg).entries();
      const registered = new Set(procs.map((p) => p.pid));
      this.scanHoldersIfDue(view, now);
      snap.segment = this.segmentInfo(seg, now, registered);
      snap.domains = [...view.domains.values()].sort((a, b) => a.header.domainIndex - b.header.domainIndex).map((d) => this.domainInfo(d, procs, now, registered));
      snap.pool = sumPools(snap.domains.map((d) => d.pool));
      snap.functions = this.functions(seg, procs, intervalS, this.handlerTimes(view, procs));
      snap.processes = this.processes(view, procs, now);
    }
    snap.events = [...this.events];
    return snap;
  }

  private shm(): Snapshot['shm'] {
    const u = Segment.shmUsage();
    const used = u.total - u.free;
    const usedPercent = u.total ? (100 * used) / u.total : 0;
    const warn = usedPercent > this.o.shmWarnPercent;
    if (warn !== this.shmWarned) {
      this.shmWarned = warn;
      if (warn) this.note('warn', `/dev/shm is ${pct(usedPercent)} % full (warning above ${this.o.shmWarnPercent} %)`);
    }
    return { path: '/dev/shm', total: u.total, used, available: u.available, usedPercent, warnPercent: this.o.shmWarnPercent, warn };
  }

  private scanHoldersIfDue(view: InstanceView, now: number): void {
    const names = view.segmentNames();
    const key = names.join(',');
    if (this.o.syncProc && this.holdersDue(key, now)) this.keepHolders(now, key, names, scanHolders(names, { exclude: [process.pid] }));
  }

  private segmentInfo(seg: Segment, now: number, registered: Set<number>): SegmentInfo {
    let size = seg.header.size;
    let touched = 0;
    try {
      ({ size, touched } = Segment.stat(seg.name));
    } catch {
      // unlinked since we mapped it: the follower will notice
    }
    // Between scans a holder may have exited (a replica restarted): it would show as a stranger.
    const holders = (this.holders.by.get(seg.name) ?? []).filter((h) => pidAlive(h.pid));
    return {
      name: seg.name,
      path: segmentPath(seg.name),
      size,
      touched,
      layoutVersion: seg.header.version,
      creatorPid: seg.header.creatorPid,
      creatorAlive: pidAlive(seg.header.creatorPid),
      createdAt: new Date(seg.header.createdAt).toISOString(),
      uptimeS: Math.max(0, (now - seg.header.createdAt) / 1000),
      holders: holders.map(({ pid, command, writes }) => ({ pid, command, registered: registered.has(pid), writes })),
    };
  }

  /** A domain: its segment, its pool, and the isolation its containers report. */
  private domainInfo(d: Segment, procs: ProcEntry[], now: number, registered: Set<number>): DomainSnapshot {
    const info = this.segmentInfo(d, now, registered);
    const pool = d.pool.usage().map(withPercent);
    const mine = procs.filter((p) => p.role === 'container' && p.domainIndex === d.header.domainIndex && pidAlive(p.pid));
    const kinds = [...new Set(mine.map((p) => enforcementName(p.sandbox)))];
    return {
      index: d.header.domainIndex,
      name: d.header.domain,
      enforcement: kinds.length === 1 ? kinds[0] : kinds.length ? kinds.join(' / ') : null,
      packetsInUse: pool.reduce((a, c) => a + c.inUse, 0),
      pool,
      segment: info,
    };
  }

  /** Handler histograms of each function's live containers, all-time and since the previous snapshot. */
  private handlerTimes(view: InstanceView, procs: ProcEntry[]): Map<number, { all: HistogramSnapshot; recent: HistogramSnapshot }> {
    const out = new Map<number, { all: HistogramSnapshot; recent: HistogramSnapshot }>();
    const seen = new Map<number, HistogramSnapshot>();
    for (const p of procs) {
      if (p.role !== 'container') continue;
      const ps = view.statsOf(p);
      if (!ps) continue;
      const h = ps.histogram();
      const prev = this.handlerPrev.get(p.pid);
      const f = out.get(p.functionId) ?? { all: new HistogramSnapshot(), recent: new HistogramSnapshot() };
      merge(f.all, h);
      // A process first seen now (or whose record was reset) contributes all it has recorded.
      merge(f.recent, prev && prev.count <= h.count ? since(h, prev) : h);
      out.set(p.functionId, f);
      seen.set(p.pid, h);
    }
    this.handlerPrev = seen;
    return out;
  }

  private functions(seg: Segment, procs: ProcEntry[], intervalS: number | null, handler: Map<number, { all: HistogramSnapshot; recent: HistogramSnapshot }>): FunctionSnapshot[] {
    const fs = new FunctionStats(seg);
    const names = this.o.functionNames;
    const wanted = new Set<number>([...names.keys(), ...procs.filter((p) => p.role === 'container').map((p) => p.functionId)]);
    const out: FunctionSnapshot[] = [];
    const seen = new Map<number, FnPrev>();
    for (let id = 0; id < seg.layout.maxFunctions; id++) {
      const requests = fs.get(id, counters.FN_REQUESTS);
      const inflight = fs.get(id, counters.FN_INFLIGHT);
      if (!wanted.has(id) && requests === 0 && inflight === 0) continue;
      const hist = H_STAGES.map(([, h]) => fs.histogram(id, h));
      const status = { '2xx': fs.get(id, counters.FN_2XX), '4xx': fs.get(id, counters.FN_4XX), '5xx': fs.get(id, counters.FN_5XX) };
      const errors = status['4xx'] + status['5xx'];
      const prev = this.fnPrev.get(id);
      const h = handler.get(id);
      const stage = (hs: HistogramSnapshot[], handlerH: HistogramSnapshot | undefined): StageLatency => ({
        total: summarize(hs[0]),
        queue: summarize(hs[1]),
        container: summarize(hs[2]),
        reply: summarize(hs[3]),
        handler: summarize(handlerH ?? new HistogramSnapshot()),
      });
      const f: FunctionSnapshot = {
        id,
        name: names.get(id) ?? null,
        requests,
        rps: prev && intervalS ? Math.max(0, requests - prev.requests) / intervalS : null,
        status,
        errors,
        rejected: fs.get(id, counters.FN_REJECTED),
        timeouts: fs.get(id, counters.FN_TIMEOUTS),
        inflight,
        queued: fs.get(id, counters.FN_QUEUED),
        bytesIn: fs.get(id, counters.FN_BYTES_IN),
        bytesOut: fs.get(id, counters.FN_BYTES_OUT),
        latencyUs: stage(hist, h?.all),
        recentLatencyUs: prev ? stage(hist.map((x, i) => since(x, prev.hist[i])), h?.recent) : null,
      };
      if (prev && errors > prev.errors) {
        const label = f.name ? `${id} ${f.name}` : `${id}`;
        this.note('error', `fn ${label}: +${errors - prev.errors} error(s); totals 4xx ${status['4xx']} 5xx ${status['5xx']} (timeouts ${f.timeouts}, rejected ${f.rejected})`);
      }
      seen.set(id, { requests, errors, hist });
      out.push(f);
    }
    this.fnPrev = seen;
    return out;
  }

  private processes(view: InstanceView, procs: ProcEntry[], now: number): ProcessSnapshot[] {
    const alive = new Set<number>();
    const seenPids = new Map<number, ProcPrev>();
    const names = this.o.functionNames;
    const out = procs.map((e): ProcessSnapshot => {
      const isAlive = pidAlive(e.pid);
      let cpuPercent: number | null = null;
      if (isAlive) {
        alive.add(e.pid);
        const q = sampleQuick(e.pid);
        if (q) cpuPercent = this.cpu.update(e.pid, q.cpuTime);
        if (this.o.syncProc && this.fullDue(e.pid, now)) {
          const m = sampleMemory(e.pid);
          if (m) this.recordFull(m);
        }
      }
      const m = isAlive ? this.full.get(e.pid) : undefined;
      const trend = this.trends.get(e.pid)?.verdict() ?? new MemoryTrend().verdict();
      const ps = view.statsOf(e);
      const { micros, ...polls } = ps?.polling ?? { answered: 0, timedOut: 0, parked: 0, micros: 0 };
      const p: ProcessSnapshot = {
        slot: e.slot,
        pid: e.pid,
        role: e.role,
        functionId: e.functionId,
        function: e.role === 'container' ? (names.get(e.functionId) ?? null) : null,
        replica: e.replica,
        domain: e.role === 'container' ? (view.domains.get(e.domainIndex)?.header.domain ?? null) : null,
        sandbox: e.role === 'container' ? enforcementName(e.sandbox) : null,
        state: e.state,
        restarts: e.restarts,
        lastExit: this.childOf(e)?.lastExit || null,
        uptimeS: e.uptimeS,
        heartbeatAgeS: e.heartbeatAgeS,
        alive: isAlive,
        cpuPercent,
        memory: m ? withoutPid(m) : null,
        trend,
        leak: trend.leak,
        requests: ps?.requests ?? 0,
        errors: ps?.errors ?? 0,
        handlerUs: summarize(ps?.histogram() ?? new HistogramSnapshot()),
        polling: { ...polls, seconds: micros / 1e6, percent: isAlive ? this.pollCpu.update(e.pid, micros / 1e6) : null },
      };
      this.processEvents(p, seenPids);
      return p;
    });
    this.procPrev = seenPids;
    for (const pid of [...this.full.keys()]) {
      if (!alive.has(pid)) {
        this.full.delete(pid);
        this.trends.delete(pid);
      }
    }
    this.cpu.retain(alive);
    this.pollCpu.retain(alive);
    return out.sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || a.functionId - b.functionId || a.replica - b.replica || a.slot - b.slot);
  }

  private trend(pid: number): MemoryTrend {
    let t = this.trends.get(pid);
    if (!t) {
      t = new MemoryTrend(this.o.trend);
      this.trends.set(pid, t);
    }
    return t;
  }

  /** The supervisor's record of a table entry: by pid, else (state file not rewritten yet) by replica and restart count. */
  private childOf(e: ProcEntry): ChildRecord | undefined {
    return this.children.find((c) => c.pid === e.pid) ?? this.children.find((c) => c.role === e.role && c.functionId === e.functionId && c.replica === e.replica && c.restarts === e.restarts);
  }

  private processEvents(p: ProcessSnapshot, seenPids: Map<number, ProcPrev>): void {
    const who = `${p.role}${p.role === 'container' ? ` ${p.functionId}/${p.replica}` : ''}`;
    // A replica being replaced gracefully and its replacement share the key: count the restart once.
    const key = `${p.role}:${p.functionId}:${p.replica}`;
    const seen = this.restartsSeen.get(key);
    if (seen !== undefined && p.restarts > seen) {
      const why = restartReason(p, this.children.length > 0);
      // The reason first: a narrow events panel cuts the end of the line.
      this.note('warn', `${who} restarted${why ? `: ${why}` : ''} (pid ${p.pid}, ${p.restarts} restart${p.restarts === 1 ? '' : 's'})`);
    }
    if (seen === undefined || p.restarts > seen) this.restartsSeen.set(key, p.restarts);
    const prev = this.procPrev.get(p.pid);
    if (prev) {
      if (p.state !== prev.state && (p.state === 'crashed' || p.state === 'failed')) this.note('error', `${who} pid ${p.pid} ${p.state}${p.lastExit ? `: ${p.lastExit}` : ''}`);
      if (p.leak && !prev.leak) this.note('warn', `${who} pid ${p.pid}: private memory rising ${fmtRate(p.trend.slopeBytesPerS)} steadily: likely leak`);
    }
    if (!p.alive && prev?.state !== 'dead' && p.state !== 'stopped') this.note('error', `${who} pid ${p.pid} is not running but still registered`);
    seenPids.set(p.pid, { state: p.alive ? p.state : 'dead', leak: p.leak });
  }
}

/**
 * Why a replica restarted, short: the first clause of the supervisor's lastExit ("killed by
 * SIGKILL", "exited with code 1"). A restarted replica without an exit of its own was started
 * while the previous one still ran: a graceful replacement (memoryLimit, or a replacement the
 * replica asked for). Null when the supervisor's record is not available.
 */
function restartReason(p: ProcessSnapshot, haveRecords: boolean): string | null {
  if (p.lastExit) {
    const first = p.lastExit.split(';')[0].trim();
    return first.length > 100 ? `${first.slice(0, 99)}…` : first;
  }
  return haveRecords && p.restarts > 0 ? 'replaced while running (memoryLimit or a replacement request; see `faasflow logs`)' : null;
}

/** A percentage short but not rounded to 0 when it is small: "85", "2.5", "0.0061". */
function pct(p: number): string {
  return p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toPrecision(2);
}

function withoutPid(m: MemorySample): Omit<MemorySample, 'pid'> {
  const { pid: _pid, ...rest } = m;
  return rest;
}

function fmtRate(bytesPerS: number): string {
  const kib = bytesPerS / 1024;
  return kib >= 1024 ? `${(kib / 1024).toFixed(1)} MiB/s` : `${kib.toFixed(0)} KiB/s`;
}

function withPercent(c: ClassUsage): PoolClassSnapshot {
  return { ...c, usedPercent: c.count ? (100 * c.inUse) / c.count : 0 };
}

/** The pools of every domain added up per size class: what the instance has of each. */
function sumPools(pools: PoolClassSnapshot[][]): PoolClassSnapshot[] {
  const by = new Map<number, ClassUsage>();
  for (const c of pools.flat()) {
    const t = by.get(c.size) ?? { size: c.size, count: 0, inUse: 0, free: 0, highWater: 0, bytesInUse: 0, touched: 0 };
    by.set(c.size, { size: c.size, count: t.count + c.count, inUse: t.inUse + c.inUse, free: t.free + c.free, highWater: t.highWater + c.highWater, bytesInUse: t.bytesInUse + c.bytesInUse, touched: t.touched + c.touched });
  }
  return [...by.values()].sort((a, b) => a.size - b.size).map(withPercent);
}

/** A one-off snapshot of an instance with every number sampled now (CPU % and rates need an Observer). */
export function takeSnapshot(view: InstanceView, o: ObserveOptions = {}): Snapshot {
  return new Observer(o).snapshot(view, view.name);
}
