// The processes part of a snapshot: every process-table entry with its liveness, CPU, memory and
// trend, its own counters, and why it last exited (from the supervisor's state file); and the
// events a change between two snapshots means (a restart, a crash, a likely leak).
import type { ChildStatus } from '../common/protocol.js';
import type { ProcEntry, ProcessStats } from '../shm/index.js';
import type { ProcState } from './procfs.js';
import { enforcementName } from '../sys/sandbox.js';
import { fmtBytes } from './format.js';
import type { InstanceView } from './instance.js';
import { NOTHING, summarize } from './latency.js';
import type { ProcessSamples } from './samples.js';
import type { LatencySummary, ObserveEvent, ProcessSnapshot } from './types.js';

const ROLE_ORDER = ['supervisor', 'gateway', 'queue', 'container', 'spare', 'none'];
/** How many snapshots a restart's event waits for the supervisor's record of the new process. */
const RECORD_WAIT_SNAPSHOTS = 10;

/** What the supervisor's state file says about a process (ChildStatus), as far as a snapshot uses it. */
export type ChildRecord = Pick<ChildStatus, 'pid' | 'role' | 'functionId' | 'replica' | 'restarts' | 'lastExit' | 'queue'>;

interface ProcPrev {
  state: string;
  leak: boolean;
  logs: { cut: number; dropped: number };
}

export class ProcessReader {
  /** The supervisor's record of its children; empty when there is none to read. */
  children: readonly ChildRecord[] = [];
  /** State and leak flag of each registered pid at the previous snapshot. */
  private prev = new Map<number, ProcPrev>();
  /** Highest restart count seen per role/function/replica (a replica being replaced is listed twice). */
  private restartsSeen = new Map<string, number>();
  /** Snapshots a restart's event has waited for the supervisor's record of the new process. */
  private waited = new Map<string, number>();
  /** Each process's handler times as last summarized, and the histogram's count then: not read again until it moves. */
  private handler = new Map<number, { count: number; us: LatencySummary }>();

  constructor(
    private readonly samples: ProcessSamples,
    private readonly note: (level: ObserveEvent['level'], text: string) => void,
  ) {}

  /** A new instance (another segment): nothing from the old one counts. */
  reset(): void {
    this.prev = new Map();
    this.restartsSeen = new Map();
    this.waited = new Map();
    this.handler = new Map();
  }

  /** `sync`: take due full memory samples here, on the event loop (else prefetch() took them). `look`: the snapshot's reading of /proc/<pid>/stat. */
  read(view: InstanceView, procs: ProcEntry[], now: number, names: Map<number, string>, sync: boolean, look: (pid: number) => ProcState | null): ProcessSnapshot[] {
    const alive = new Set<number>();
    const seen = new Map<number, ProcPrev>();
    const handler = new Map<number, { count: number; us: LatencySummary }>();
    const out = procs.map((e): ProcessSnapshot => {
      const st = look(e.pid);
      const isAlive = st?.alive === true;
      let cpuPercent: number | null = null;
      if (st?.alive) {
        alive.add(e.pid);
        cpuPercent = this.samples.take(e.pid, now, sync, st.cpuTime);
      }
      const trend = this.samples.trend(e.pid);
      const ps = view.statsOf(e);
      const child = this.childOf(e);
      const { micros, ...polls } = ps?.polling ?? { answered: 0, timedOut: 0, parked: 0, micros: 0 };
      const p: ProcessSnapshot = {
        slot: e.slot,
        pid: e.pid,
        role: e.role,
        functionId: e.functionId,
        function: e.role === 'container' ? (names.get(e.functionId) ?? null) : null,
        replica: e.replica,
        domain: e.role === 'container' || e.role === 'spare' ? (view.domains.get(e.domainIndex)?.header.domain ?? null) : null,
        sandbox: e.role === 'container' ? enforcementName(e.sandbox) : null,
        state: e.state,
        restarts: e.restarts,
        lastExit: child?.lastExit || null,
        ...(child?.queue ? { queue: child.queue } : {}),
        uptimeS: e.uptimeS,
        heartbeatAgeS: e.heartbeatAgeS,
        alive: isAlive,
        cpuPercent,
        memory: isAlive ? this.samples.memory(e.pid) : null,
        trend,
        leak: trend.leak,
        requests: ps?.requests ?? 0,
        errors: ps?.errors ?? 0,
        handlerUs: this.handlerUs(e.pid, ps, handler),
        polling: { ...polls, seconds: micros / 1e6, percent: isAlive ? this.samples.pollPercent(e.pid, micros / 1e6) : null },
        logs: { ...e.logs },
      };
      this.events(p, seen, child !== undefined);
      return p;
    });
    this.prev = seen;
    this.handler = handler;
    this.samples.retain(alive);
    return out.sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || a.functionId - b.functionId || a.replica - b.replica || a.slot - b.slot);
  }

  private handlerUs(pid: number, ps: ProcessStats | undefined, into: Map<number, { count: number; us: LatencySummary }>): LatencySummary {
    if (!ps) return summarize(NOTHING);
    const count = ps.histogramCount();
    const prev = this.handler.get(pid);
    const us = prev && prev.count === count ? prev.us : summarize(ps.histogram());
    into.set(pid, { count, us });
    return us;
  }

  /** The supervisor's record of a table entry: by pid, else (state file not rewritten yet) by replica and restart count. */
  private childOf(e: ProcEntry): ChildRecord | undefined {
    return this.children.find((c) => c.pid === e.pid) ?? this.children.find((c) => c.role === e.role && c.functionId === e.functionId && c.replica === e.replica && c.restarts === e.restarts);
  }

  /** `recorded`: the supervisor's state file has a record of this process. */
  private events(p: ProcessSnapshot, seen: Map<number, ProcPrev>, recorded: boolean): void {
    const who = `${p.role}${p.role === 'container' ? ` ${p.functionId}/${p.replica}` : ''}`;
    // A replica being replaced gracefully and its replacement share the key: count the restart once.
    const key = `${p.role}:${p.functionId}:${p.replica}`;
    const before = this.restartsSeen.get(key);
    let counted = true;
    if (before !== undefined && p.restarts > before) {
      // A new replica registers in the segment before the supervisor rewrites its state file with
      // the new pid; until then why the old one went is unknown. Wait a few snapshots for the
      // record rather than guess, and give up waiting if the supervisor never writes one.
      const waited = this.waited.get(key) ?? 0;
      if (this.children.length > 0 && !recorded && waited < RECORD_WAIT_SNAPSHOTS) {
        this.waited.set(key, waited + 1);
        counted = false;
      } else {
        this.waited.delete(key);
        const why = restartReason(p, recorded);
        // The reason first: a narrow events panel cuts the end of the line.
        this.note('warn', `${who} restarted${why ? `: ${why}` : ''} (pid ${p.pid}, ${p.restarts} restart${p.restarts === 1 ? '' : 's'})`);
      }
    }
    if (counted && (before === undefined || p.restarts > before)) this.restartsSeen.set(key, p.restarts);
    const prev = this.prev.get(p.pid);
    if (prev) {
      if (p.state !== prev.state && (p.state === 'crashed' || p.state === 'failed')) this.note('error', `${who} pid ${p.pid} ${p.state}${p.lastExit ? `: ${p.lastExit}` : ''}`);
      if (p.leak && !prev.leak) this.note('warn', `${who} pid ${p.pid}: private memory rising ${fmtBytes(Math.round(p.trend.slopeBytesPerS))}/s steadily: likely leak`);
      const logs = logNews(p.logs, prev.logs);
      if (logs) this.note('warn', `${who} pid ${p.pid}: ${logs} (see \`faasflow logs --id ${p.functionId}\`)`);
    }
    if (!p.alive && prev?.state !== 'dead' && p.state !== 'stopped') this.note('error', `${who} pid ${p.pid} is not running but still registered`);
    seen.set(p.pid, { state: p.alive ? p.state : 'dead', leak: p.leak, logs: p.logs });
  }
}

/** What a process's output lost since the previous snapshot, as an event's words; '' for nothing. */
function logNews(now: ProcessSnapshot['logs'], before: ProcessSnapshot['logs']): string {
  const dropped = now.dropped - before.dropped;
  const cut = now.cut - before.cut;
  return [
    dropped > 0 ? `${dropped} log line${dropped === 1 ? '' : 's'} dropped (over logs.rate, or the disk behind)` : '',
    cut > 0 ? `${cut} log line${cut === 1 ? '' : 's'} cut at logs.maxLine` : '',
  ].filter(Boolean).join(', ');
}

/**
 * Why a replica restarted, short: the first clause of the supervisor's lastExit ("killed by
 * SIGKILL", "exited with code 1"). A restarted replica without an exit of its own was started
 * while the previous one still ran: a graceful replacement (memoryLimit, or a replacement the
 * replica asked for). Null when the supervisor has no record of the process.
 */
function restartReason(p: ProcessSnapshot, recorded: boolean): string | null {
  if (p.lastExit) {
    const first = p.lastExit.split(';')[0].trim();
    return first.length > 100 ? `${first.slice(0, 99)}…` : first;
  }
  return recorded && p.restarts > 0 ? 'replaced while running (memoryLimit or a replacement request; see `faasflow logs`)' : null;
}
