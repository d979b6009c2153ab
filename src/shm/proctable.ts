// The process table in the runtime segment: who runs, in what role, where it writes its stats,
// under which isolation, and whether it is alive. The supervisor is its only writer; `top` and
// `shm inspect` read it without asking anyone. No container maps the runtime segment.
import { PROC_DEPLOYMENT, PROC_DOMAIN, PROC_FUNCTION, PROC_HEARTBEAT, PROC_LOG_CUT, PROC_LOG_DROPPED, PROC_PID, PROC_REPLICA, PROC_RESTARTS, PROC_ROLE, PROC_SANDBOX, PROC_STARTED, PROC_STATE, PROC_STATS_SLOT, PROC_WORDS, ROLES, SANDBOX_LANDLOCK, SANDBOX_UID, type Role } from './constants.js';
import { readOnlyError } from './errors.js';
import type { SegmentMemory } from './memory.js';

export const PROC_STATES = ['free', 'starting', 'ready', 'draining', 'stopped', 'crashed', 'failed'] as const;
export type ProcState = (typeof PROC_STATES)[number];

/** The isolation a process runs under, as the sandbox launcher reported it. */
export interface Sandbox {
  uid: boolean;
  /** Landlock ABI version applied; 0: none. */
  landlock: number;
}

export interface ProcEntry {
  slot: number;
  pid: number;
  role: Role;
  functionId: number;
  replica: number;
  deployment: number;
  state: ProcState;
  heartbeatAgeS: number;
  restarts: number;
  uptimeS: number;
  /** A container's domain index; -1 for other roles. */
  domainIndex: number;
  /** Where its stats record is: in its domain segment (containers) or in the runtime segment. */
  statsSlot: number;
  sandbox: Sandbox;
  /** Lines of its output cut at `logs.maxLine` and dropped (over `logs.rate`, or the disk behind). */
  logs: LogCounts;
}

export interface LogCounts {
  cut: number;
  dropped: number;
}

export interface Registration {
  role: Role;
  functionId?: number;
  replica?: number;
  deployment?: number;
  restarts?: number;
  domainIndex?: number;
  /** Defaults to the table slot (supervisor, gateways). */
  statsSlot?: number;
  /** Its output's counts so far (a restarted replica carries them on); default none. */
  logs?: LogCounts;
}

export function encodeSandbox(s: Sandbox): number {
  return (s.uid ? SANDBOX_UID : 0) | (s.landlock > 0 ? SANDBOX_LANDLOCK | ((s.landlock & 0xff) << 8) : 0);
}

export function decodeSandbox(word: number): Sandbox {
  return { uid: (word & SANDBOX_UID) !== 0, landlock: word & SANDBOX_LANDLOCK ? (word >> 8) & 0xff : 0 };
}

export class ProcessTable {
  private readonly i32: Int32Array;
  /** The same words as f64 (PROC_LOG_*): the table starts on a page, each slot on 64 bytes. */
  private readonly f64: Float64Array;
  private readonly base: number;
  private readonly slots: number;
  private readonly createdAt: number;
  private readonly mem: SegmentMemory;
  /** Mapped read-only: the writing methods throw EACCES instead of storing. */
  private readonly readOnly: boolean;

  constructor(mem: SegmentMemory) {
    this.mem = mem;
    this.readOnly = !mem.writable;
    this.i32 = mem.i32;
    this.base = mem.layout.procOffset / 4;
    this.slots = mem.layout.procSlots;
    this.f64 = new Float64Array(this.i32.buffer, this.i32.byteOffset + mem.layout.procOffset, (this.slots * PROC_WORDS) / 2);
    this.createdAt = mem.header.createdAt;
  }

  private now(): number {
    return Math.floor((Date.now() - this.createdAt) / 1000);
  }

  private writable(what: string): void {
    if (this.readOnly) throw readOnlyError(this.mem.name, `ProcessTable.${what}`);
  }

  /**
   * Claims a free slot (or the one this pid already has). Returns -1 when the table is full. The
   * positional form (role, function, replica, restarts) is kept for callers that need no more.
   */
  register(pid: number, reg: Registration | Role, functionId = 0, replica = 0, restarts = 0): number {
    this.writable('register');
    const r: Registration = typeof reg === 'string' ? { role: reg, functionId, replica, restarts } : reg;
    let free = -1;
    for (let s = 0; s < this.slots; s++) {
      const p = Atomics.load(this.i32, this.base + s * PROC_WORDS + PROC_PID);
      if (p === pid) return this.fill(s, pid, r);
      if (p === 0 && free < 0) free = s;
    }
    return free < 0 ? -1 : this.fill(free, pid, r);
  }

  private fill(s: number, pid: number, r: Registration): number {
    const e = this.base + s * PROC_WORDS;
    this.i32[e + PROC_ROLE] = ROLES.indexOf(r.role);
    this.i32[e + PROC_FUNCTION] = r.functionId ?? 0;
    this.i32[e + PROC_REPLICA] = r.replica ?? 0;
    this.i32[e + PROC_DEPLOYMENT] = r.deployment ?? 0;
    this.i32[e + PROC_STATE] = PROC_STATES.indexOf('starting');
    this.i32[e + PROC_RESTARTS] = r.restarts ?? 0;
    this.i32[e + PROC_DOMAIN] = r.domainIndex ?? -1;
    this.i32[e + PROC_STATS_SLOT] = r.statsSlot ?? s;
    this.i32[e + PROC_SANDBOX] = 0;
    this.i32[e + PROC_STARTED] = this.now();
    this.i32[e + PROC_HEARTBEAT] = this.now();
    this.putLogCounts(s, r.logs ?? { cut: 0, dropped: 0 });
    Atomics.store(this.i32, e + PROC_PID, pid);
    return s;
  }

  private store(slot: number, word: number, value: number, what: string): void {
    this.writable(what);
    if (slot >= 0 && slot < this.slots) Atomics.store(this.i32, this.base + slot * PROC_WORDS + word, value);
  }

  setState(slot: number, state: ProcState): void {
    this.store(slot, PROC_STATE, PROC_STATES.indexOf(state), 'setState');
  }

  /** What the sandbox launcher applied to the process in `slot`. */
  setSandbox(slot: number, s: Sandbox): void {
    this.store(slot, PROC_SANDBOX, encodeSandbox(s), 'setSandbox');
  }

  /** Its output's counts so far (the supervisor updates them as lines are cut or dropped). */
  setLogCounts(slot: number, c: LogCounts): void {
    this.writable('setLogCounts');
    if (slot >= 0 && slot < this.slots) this.putLogCounts(slot, c);
  }

  private putLogCounts(slot: number, c: LogCounts): void {
    const f = (slot * PROC_WORDS) / 2;
    this.f64[f + PROC_LOG_CUT / 2] = c.cut;
    this.f64[f + PROC_LOG_DROPPED / 2] = c.dropped;
  }

  heartbeat(slot: number): void {
    this.store(slot, PROC_HEARTBEAT, this.now(), 'heartbeat');
  }

  release(slot: number): void {
    this.store(slot, PROC_PID, 0, 'release');
  }

  slotOf(pid: number): number {
    for (let s = 0; s < this.slots; s++) if (Atomics.load(this.i32, this.base + s * PROC_WORDS + PROC_PID) === pid) return s;
    return -1;
  }

  entries(): ProcEntry[] {
    const out: ProcEntry[] = [];
    const now = this.now();
    for (let s = 0; s < this.slots; s++) {
      const e = this.base + s * PROC_WORDS;
      const pid = Atomics.load(this.i32, e + PROC_PID);
      if (pid === 0) continue;
      out.push({
        slot: s,
        pid,
        role: ROLES[this.i32[e + PROC_ROLE]] ?? 'none',
        functionId: this.i32[e + PROC_FUNCTION],
        replica: this.i32[e + PROC_REPLICA],
        deployment: this.i32[e + PROC_DEPLOYMENT],
        state: PROC_STATES[this.i32[e + PROC_STATE]] ?? 'free',
        heartbeatAgeS: now - this.i32[e + PROC_HEARTBEAT],
        restarts: this.i32[e + PROC_RESTARTS],
        uptimeS: now - this.i32[e + PROC_STARTED],
        domainIndex: this.i32[e + PROC_DOMAIN],
        statsSlot: this.i32[e + PROC_STATS_SLOT],
        sandbox: decodeSandbox(this.i32[e + PROC_SANDBOX]),
        logs: { cut: this.f64[(s * PROC_WORDS + PROC_LOG_CUT) / 2], dropped: this.f64[(s * PROC_WORDS + PROC_LOG_DROPPED) / 2] },
      });
    }
    return out;
  }
}
