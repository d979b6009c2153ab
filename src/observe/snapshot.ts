// One typed picture of an instance, built from its segments (mapped read-only) and /proc, without
// asking any faasflow process anything. `top` renders it, `top --once --json` prints it,
// /metrics converts it. An Observer keeps what rates and trends need between snapshots; the
// parts of a snapshot are read by snapshot-segments, snapshot-functions and snapshot-processes.
import { ProcessTable, Segment, pidAlive } from '../shm/index.js';
import { Holders } from './holders.js';
import type { InstanceView } from './instance.js';
import type { TrendOptions } from './trend.js';
import { ProcessSamples } from './samples.js';
import { ProcFiles, procState, type ProcState } from './procfs.js';
import { FunctionReader } from './snapshot-functions.js';
import { FlowReader, flowRows } from './snapshot-flows.js';
import type { FlowConfig } from '../config/types.js';
import { ProcessReader, type ChildRecord } from './snapshot-processes.js';
import { PoolUsage, domainInfo, segmentInfo, sumPools } from './snapshot-segments.js';
import type { ObserveEvent, PoolClassSnapshot, Snapshot } from './types.js';

export type * from './types.js';
export type { ChildRecord };

export interface ObserveOptions {
  /** Warn when /dev/shm is fuller than this (default 80). */
  shmWarnPercent?: number;
  /** Names for function ids (from the config); ids without one show as null. */
  functionNames?: Map<number, string>;
  /** The instance's flows (from the config): their stats rows are read as flows, not functions. */
  flows?: readonly FlowConfig[];
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
  /**
   * A view refreshed for as long as it runs (`top`): each process's /proc/<pid>/stat and status
   * stay open and are read every snapshot, so RSS, shm and CPU are current; smaps_rollup is read
   * every `rollupMs` (default 6 × fullSampleMs) and carried forward in between (see samples.ts);
   * a pool class whose counters did not move is scanned every 5 s (see PoolUsage). close() the
   * Observer when done.
   */
  live?: boolean;
  rollupMs?: number;
  trend?: TrendOptions;
  /** Recent events kept. */
  keepEvents?: number;
}

export class Observer {
  private readonly o: Required<Omit<ObserveOptions, 'trend' | 'rollupMs'>> & { trend: TrendOptions };
  private readonly files: ProcFiles | null;
  private readonly pools: PoolUsage;
  private readonly samples: ProcessSamples;
  private readonly holders: Holders;
  private readonly fns: FunctionReader;
  private readonly flowReader: FlowReader;
  private readonly procs: ProcessReader;
  private prefetching: Promise<void> | null = null;
  private readonly events: ObserveEvent[] = [];
  private lastAt = 0;
  private segKey = '';
  private attached = false;
  private shmWarned = false;
  /** The last sum of the domains' pools, and the pools it was taken from. */
  private pooled: { from: PoolClassSnapshot[][]; sum: PoolClassSnapshot[] } | null = null;

  constructor(o: ObserveOptions = {}) {
    this.o = { shmWarnPercent: 80, functionNames: new Map(), flows: [], fullSampleMs: 0, holdersMs: 0, syncProc: true, live: false, keepEvents: 100, trend: {}, ...o };
    const note = (level: ObserveEvent['level'], text: string) => this.note(level, text);
    this.files = this.o.live ? new ProcFiles() : null;
    // A live view scans a pool class whose counters did not move at least every 5 s.
    this.pools = new PoolUsage(this.o.live ? 5000 : 0);
    this.samples = new ProcessSamples(this.o.fullSampleMs, this.o.trend, this.files, o.rollupMs);
    // A live view looks at every process for holders once a minute, at new ones every holdersMs.
    this.holders = new Holders(this.o.holdersMs, this.o.live ? Math.max(this.o.holdersMs, 60_000) : this.o.holdersMs);
    this.fns = new FunctionReader(note);
    this.flowReader = new FlowReader(note);
    this.procs = new ProcessReader(this.samples, note);
  }

  set functionNames(names: Map<number, string>) {
    this.o.functionNames = names;
  }

  set flows(flows: readonly FlowConfig[]) {
    this.o.flows = flows;
  }

  set shmWarnPercent(p: number) {
    this.o.shmWarnPercent = p;
  }

  /**
   * The supervisor's record of its children (`children` of state.json in the runtime directory):
   * where `lastExit`, why a process last exited, comes from. Empty when there is none to read.
   */
  set supervisorChildren(list: readonly ChildRecord[]) {
    this.procs.children = list;
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
    const pids = new ProcessTable(view.runtime).entries().map((e) => e.pid).filter((pid) => pidAlive(pid) && this.samples.due(pid, now));
    const holders = this.holders.prefetch(view, now);
    await this.samples.prefetch(pids);
    await holders;
  }

  /** Closes the /proc files a live Observer keeps open. */
  close(): void {
    this.files?.close();
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
    this.noticeInstance(seg, instance);
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
      flows: [],
      pool: [],
      processes: [],
      events: [],
    };
    if (view && seg) {
      const procs = new ProcessTable(seg).entries();
      const registered = new Set(procs.map((p) => p.pid));
      // Each pid's /proc/<pid>/stat read once for the whole snapshot: liveness and CPU time.
      const states = new Map<number, ProcState | null>();
      const look = (pid: number) => {
        if (!states.has(pid)) states.set(pid, procState(pid, this.files ?? undefined));
        return states.get(pid)!;
      };
      const alive = (pid: number) => look(pid)?.alive === true;
      if (this.o.syncProc) this.holders.scanIfDue(view, now);
      snap.segment = segmentInfo(seg, now, registered, this.holders, alive);
      snap.domains = [...view.domains.values()].sort((a, b) => a.header.domainIndex - b.header.domainIndex).map((d) => domainInfo(d, procs, now, registered, this.holders, alive, this.pools));
      // A domain's pool rows are the same array while its classes did not change (PoolUsage):
      // while none did, so is the sum.
      const pools = snap.domains.map((d) => d.pool);
      const last = this.pooled;
      snap.pool = last && last.from.length === pools.length && last.from.every((p, i) => p === pools[i]) ? last.sum : sumPools(pools);
      this.pooled = { from: pools, sum: snap.pool };
      snap.functions = this.fns.read(view, seg, procs, intervalS, this.o.functionNames, flowRows(this.o.flows));
      snap.flows = this.flowReader.read(seg, this.o.flows, intervalS);
      snap.processes = this.procs.read(view, procs, now, this.o.functionNames, this.o.syncProc, look);
      this.files?.retain(new Set(states.keys()));
    } else {
      this.files?.close();
    }
    snap.events = [...this.events];
    return snap;
  }

  /** An instance that appears, goes away or comes back (a new segment) is an event, and starts the rates afresh. */
  private noticeInstance(seg: Segment | null, instance: string): void {
    const key = seg ? `${seg.name}@${seg.header.createdAt}` : '';
    if (key === this.segKey) return;
    if (this.segKey && !key) this.note('error', `instance ${instance} went away (its segment is gone)`);
    else if (seg) this.note('info', `${this.attached ? 'instance is back' : 'attached'}: ${seg.name}, creator pid ${seg.header.creatorPid}`);
    this.attached ||= key !== '';
    this.segKey = key;
    this.fns.reset();
    this.flowReader.reset();
    this.procs.reset();
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
}

/** A percentage short but not rounded to 0 when it is small: "85", "2.5", "0.0061". */
function pct(p: number): string {
  return p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toPrecision(2);
}

/** A one-off snapshot of an instance with every number sampled now (CPU % and rates need an Observer). */
export function takeSnapshot(view: InstanceView, o: ObserveOptions = {}): Snapshot {
  return new Observer(o).snapshot(view, view.name);
}
