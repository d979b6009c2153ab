// One typed picture of an instance, built from the segment (mapped read-only) and /proc, without
// asking any faasflow process anything. `top` renders it, `top --once --json` prints it,
// /metrics converts it. An Observer keeps what rates and trends need between snapshots.
import { FunctionStats, H_CONTAINER, H_QUEUE, H_TOTAL, HistogramSnapshot, ProcessStats, ProcessTable, Segment, counters, pidAlive, type ProcEntry } from '../shm/index.js';
import { merge, since, summarize } from './latency.js';
import { CpuMeter, MemoryTrend, sampleMemory, sampleQuick, type MemorySample, type TrendOptions } from './memory.js';
import { commandLine, scanHolders, segmentPath, type MappedBy } from './procfs.js';
import type { FunctionSnapshot, ObserveEvent, ProcessSnapshot, SegmentInfo, Snapshot, StageLatency } from './types.js';

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
  trend?: TrendOptions;
  /** Recent events kept. */
  keepEvents?: number;
}

const H_STAGES = [
  ['total', H_TOTAL],
  ['queue', H_QUEUE],
  ['container', H_CONTAINER],
] as const;

const ROLE_ORDER = ['supervisor', 'gateway', 'proxy', 'container', 'none'];

interface FnPrev {
  requests: number;
  errors: number;
  hist: HistogramSnapshot[];
}

interface ProcPrev {
  restarts: number;
  state: string;
  leak: boolean;
}

export class Observer {
  private readonly o: Required<Omit<ObserveOptions, 'trend'>> & { trend: TrendOptions };
  private readonly cpu = new CpuMeter();
  private readonly pollCpu = new CpuMeter();
  private readonly trends = new Map<number, MemoryTrend>();
  private readonly full = new Map<number, MemorySample>();
  private fnPrev = new Map<number, FnPrev>();
  private procPrev = new Map<string, ProcPrev>();
  /** Each process's handler histogram at the previous snapshot, by pid. */
  private handlerPrev = new Map<number, HistogramSnapshot>();
  private readonly events: ObserveEvent[] = [];
  private holders: { at: number; key: string; pids: MappedBy[] } = { at: 0, key: '', pids: [] };
  private lastAt = 0;
  private segKey = '';
  private attached = false;
  private shmWarned = false;

  constructor(o: ObserveOptions = {}) {
    this.o = { shmWarnPercent: 80, functionNames: new Map(), fullSampleMs: 0, holdersMs: 0, keepEvents: 100, trend: {}, ...o };
  }

  set functionNames(names: Map<number, string>) {
    this.o.functionNames = names;
  }

  set shmWarnPercent(p: number) {
    this.o.shmWarnPercent = p;
  }

  /** Adds an event (for sources the observer does not see itself, like error log lines). */
  note(level: ObserveEvent['level'], text: string, at = Date.now()): void {
    this.events.push({ at: new Date(at).toISOString(), level, text });
    if (this.events.length > this.o.keepEvents) this.events.splice(0, this.events.length - this.o.keepEvents);
  }

  /** A snapshot of `seg`, or of an absent instance (`seg` null, with the reason) while waiting. */
  snapshot(seg: Segment | null, instance: string, reason: string | null = null): Snapshot {
    const now = Date.now();
    const mono = performance.now();
    const intervalS = this.lastAt > 0 ? (mono - this.lastAt) / 1000 : null;
    this.lastAt = mono;
    const key = seg ? `${seg.name}@${seg.header.createdAt}` : '';
    if (key !== this.segKey) {
      if (this.segKey && !key) this.note('error', `instance ${instance} went away (its segment is gone)`);
      else if (seg) this.note('info', `${this.attached ? 'instance is back' : 'attached'}: ${seg.name}, creator pid ${seg.header.creatorPid}`);
      this.attached ||= key !== '';
      this.segKey = key;
      this.fnPrev = new Map();
      this.procPrev = new Map();
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
      functions: [],
      pool: [],
      processes: [],
      events: [],
    };
    if (seg) {
      const procs = new ProcessTable(seg).entries();
      snap.segment = this.segmentInfo(seg, now, new Set(procs.map((p) => p.pid)));
      snap.pool = seg.pool.usage().map((c) => ({ ...c, usedPercent: c.count ? (100 * c.inUse) / c.count : 0 }));
      snap.functions = this.functions(seg, procs, intervalS, this.handlerTimes(seg, procs));
      snap.processes = this.processes(seg, procs, now);
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
      if (warn) this.note('warn', `/dev/shm is ${usedPercent.toFixed(0)} % full (warning above ${this.o.shmWarnPercent} %)`);
    }
    return { path: '/dev/shm', total: u.total, used, available: u.available, usedPercent, warnPercent: this.o.shmWarnPercent, warn };
  }

  private segmentInfo(seg: Segment, now: number, registered: Set<number>): SegmentInfo {
    let size = seg.header.size;
    let touched = 0;
    try {
      ({ size, touched } = Segment.stat(seg.name));
    } catch {
      // unlinked since we mapped it: the follower will notice
    }
    if (this.holders.key !== seg.name || now - this.holders.at >= this.o.holdersMs) {
      this.holders = { at: now, key: seg.name, pids: scanHolders([seg.name], { exclude: [process.pid] }).get(seg.name) ?? [] };
    }
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
      holders: this.holders.pids.map(({ pid, writes }) => ({ pid, command: commandLine(pid), registered: registered.has(pid), writes })),
    };
  }

  /** Handler histograms of each function's live containers, all-time and since the previous snapshot. */
  private handlerTimes(seg: Segment, procs: ProcEntry[]): Map<number, { all: HistogramSnapshot; recent: HistogramSnapshot }> {
    const out = new Map<number, { all: HistogramSnapshot; recent: HistogramSnapshot }>();
    const seen = new Map<number, HistogramSnapshot>();
    for (const p of procs) {
      if (p.role !== 'container') continue;
      const h = new ProcessStats(seg, p.slot).histogram();
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

  private processes(seg: Segment, procs: ProcEntry[], now: number): ProcessSnapshot[] {
    const alive = new Set<number>();
    const names = this.o.functionNames;
    const out = procs.map((e): ProcessSnapshot => {
      const isAlive = pidAlive(e.pid);
      let cpuPercent: number | null = null;
      if (isAlive) {
        alive.add(e.pid);
        const q = sampleQuick(e.pid);
        if (q) cpuPercent = this.cpu.update(e.pid, q.cpuTime);
        const last = this.full.get(e.pid);
        if (!last || now - last.at >= this.o.fullSampleMs) {
          const m = sampleMemory(e.pid);
          if (m) {
            this.full.set(e.pid, m);
            this.trend(e.pid).add(m.at, m.privateBytes);
          }
        }
      }
      const m = isAlive ? this.full.get(e.pid) : undefined;
      const trend = this.trends.get(e.pid)?.verdict() ?? new MemoryTrend().verdict();
      const ps = new ProcessStats(seg, e.slot);
      const { micros, ...polls } = ps.polling;
      const p: ProcessSnapshot = {
        slot: e.slot,
        pid: e.pid,
        role: e.role,
        functionId: e.functionId,
        function: e.role === 'container' ? (names.get(e.functionId) ?? null) : null,
        replica: e.replica,
        state: e.state,
        restarts: e.restarts,
        uptimeS: e.uptimeS,
        heartbeatAgeS: e.heartbeatAgeS,
        alive: isAlive,
        cpuPercent,
        memory: m ? withoutPid(m) : null,
        trend,
        leak: trend.leak,
        requests: ps.requests,
        errors: ps.errors,
        handlerUs: summarize(ps.histogram()),
        polling: { ...polls, seconds: micros / 1e6, percent: isAlive ? this.pollCpu.update(e.pid, micros / 1e6) : null },
      };
      this.processEvents(p);
      return p;
    });
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

  private processEvents(p: ProcessSnapshot): void {
    const who = `${p.role}${p.role === 'container' ? ` ${p.functionId}/${p.replica}` : ''}`;
    const key = `${p.role}:${p.functionId}:${p.replica}`;
    const prev = this.procPrev.get(key);
    if (prev) {
      if (p.restarts > prev.restarts) this.note('warn', `${who} restarted (pid ${p.pid}, ${p.restarts} restart${p.restarts === 1 ? '' : 's'})`);
      if (p.state !== prev.state && (p.state === 'crashed' || p.state === 'failed')) this.note('error', `${who} pid ${p.pid} ${p.state}`);
      if (p.leak && !prev.leak) this.note('warn', `${who} pid ${p.pid}: private memory rising ${fmtRate(p.trend.slopeBytesPerS)} steadily: likely leak`);
    }
    if (!p.alive && prev?.state !== 'dead' && p.state !== 'stopped') this.note('error', `${who} pid ${p.pid} is not running but still registered`);
    this.procPrev.set(key, { restarts: p.restarts, state: p.alive ? p.state : 'dead', leak: p.leak });
  }
}

function withoutPid(m: MemorySample): Omit<MemorySample, 'pid'> {
  const { pid: _pid, ...rest } = m;
  return rest;
}

function fmtRate(bytesPerS: number): string {
  const kib = bytesPerS / 1024;
  return kib >= 1024 ? `${(kib / 1024).toFixed(1)} MiB/s` : `${kib.toFixed(0)} KiB/s`;
}

/** A one-off snapshot of `seg` with every number sampled now (CPU % and rates need an Observer). */
export function takeSnapshot(seg: Segment, o: ObserveOptions = {}): Snapshot {
  return new Observer(o).snapshot(seg, seg.header.name);
}
