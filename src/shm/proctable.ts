// The process table in the segment: who is attached, in what role, and whether it is alive.
// The supervisor is its only writer; `top` and `shm inspect` read it without asking anyone.
import { PROC_FUNCTION, PROC_HEARTBEAT, PROC_PID, PROC_REPLICA, PROC_RESTARTS, PROC_ROLE, PROC_STARTED, PROC_STATE, PROC_WORDS, ROLES, type Role } from './layout.js';
import { readOnlyError } from './errors.js';
import type { Segment } from './segment.js';

export const PROC_STATES = ['free', 'starting', 'ready', 'draining', 'stopped', 'crashed', 'failed'] as const;
export type ProcState = (typeof PROC_STATES)[number];

export interface ProcEntry {
  slot: number;
  pid: number;
  role: Role;
  functionId: number;
  replica: number;
  state: ProcState;
  heartbeatAgeS: number;
  restarts: number;
  uptimeS: number;
}

export class ProcessTable {
  private readonly i32: Int32Array;
  private readonly base: number;
  private readonly slots: number;
  private readonly createdAt: number;
  private readonly seg: Segment;
  /** Mapped read-only: the writing methods throw EACCES instead of storing. */
  private readonly readOnly: boolean;

  constructor(seg: Segment) {
    this.seg = seg;
    this.readOnly = !seg.writable;
    this.i32 = seg.i32;
    this.base = seg.layout.procOffset / 4;
    this.slots = seg.layout.procSlots;
    this.createdAt = seg.header.createdAt;
  }

  private now(): number {
    return Math.floor((Date.now() - this.createdAt) / 1000);
  }

  /** Claims a free slot (or the one this pid already has). Returns -1 when the table is full. */
  register(pid: number, role: Role, functionId = 0, replica = 0, restarts = 0): number {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'ProcessTable.register');
    let free = -1;
    for (let s = 0; s < this.slots; s++) {
      const e = this.base + s * PROC_WORDS;
      const p = Atomics.load(this.i32, e + PROC_PID);
      if (p === pid) return this.fill(s, pid, role, functionId, replica, restarts);
      if (p === 0 && free < 0) free = s;
    }
    return free < 0 ? -1 : this.fill(free, pid, role, functionId, replica, restarts);
  }

  private fill(s: number, pid: number, role: Role, functionId: number, replica: number, restarts: number): number {
    const e = this.base + s * PROC_WORDS;
    this.i32[e + PROC_ROLE] = ROLES.indexOf(role);
    this.i32[e + PROC_FUNCTION] = functionId;
    this.i32[e + PROC_REPLICA] = replica;
    this.i32[e + PROC_STATE] = PROC_STATES.indexOf('starting');
    this.i32[e + PROC_RESTARTS] = restarts;
    this.i32[e + PROC_STARTED] = this.now();
    this.i32[e + PROC_HEARTBEAT] = this.now();
    Atomics.store(this.i32, e + PROC_PID, pid);
    return s;
  }

  setState(slot: number, state: ProcState): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'ProcessTable.setState');
    if (slot >= 0 && slot < this.slots) Atomics.store(this.i32, this.base + slot * PROC_WORDS + PROC_STATE, PROC_STATES.indexOf(state));
  }

  heartbeat(slot: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'ProcessTable.heartbeat');
    if (slot >= 0 && slot < this.slots) Atomics.store(this.i32, this.base + slot * PROC_WORDS + PROC_HEARTBEAT, this.now());
  }

  release(slot: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'ProcessTable.release');
    if (slot >= 0 && slot < this.slots) Atomics.store(this.i32, this.base + slot * PROC_WORDS + PROC_PID, 0);
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
        state: PROC_STATES[this.i32[e + PROC_STATE]] ?? 'free',
        heartbeatAgeS: now - this.i32[e + PROC_HEARTBEAT],
        restarts: this.i32[e + PROC_RESTARTS],
        uptimeS: now - this.i32[e + PROC_STARTED],
      });
    }
    return out;
  }
}
