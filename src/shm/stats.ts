// Stats records inside a segment. Each record has exactly one writer (each gateway its own block
// of per-function records, each process its own per-process record), so the request path updates
// them with plain stores: no messages, no locks, no contended cache lines. Readers (`top`,
// `/metrics`, `shm inspect`) map the segment read-only, read whenever they like and sum the
// gateways' blocks; an aligned f64 store is atomic on every platform Node runs on, so a reader
// never sees a torn value.
import { HistogramSnapshot, HISTOGRAM_SLOTS, record, recordCount, sane } from './histogram.js';
import { FN_COUNTERS, FN_RECORD_F64, MAX_CLASSES, PS_COUNTERS, PS_ERRORS, PS_FUNCTION, PS_POLL_HITS, PS_POLL_MISSES, PS_POLL_PARKED, PS_POLL_US, PS_RECORD_F64, PS_REQUESTS } from './constants.js';
import { readOnlyError } from './errors.js';
import type { SegmentMemory } from './memory.js';

/** Histogram numbers inside a function record. */
export const H_TOTAL = 0; // gateway: request received → reply written
export const H_QUEUE = 1; // gateway: time waiting for a free replica
export const H_CONTAINER = 2; // gateway: descriptor sent → reply descriptor received
export const H_REPLY = 3; // gateway: reply descriptor received → written to the client

/**
 * Per-function records. A gateway writes through `FunctionStats(mem, itsIndex)`; every reading
 * method sums all gateways' blocks, so readers see the instance, not one gateway.
 */
export class FunctionStats {
  private readonly f64: Float64Array;
  private readonly max: number;
  private readonly writers: number;
  /** Word offset of this writer's block. */
  private readonly block: number;
  private readonly mem: SegmentMemory;
  /** Mapped read-only: the writing methods throw EACCES instead of storing. */
  private readonly readOnly: boolean;

  constructor(mem: SegmentMemory, writer = 0) {
    this.mem = mem;
    this.f64 = mem.f64;
    this.max = mem.layout.maxFunctions;
    this.writers = mem.layout.fnWriters;
    this.readOnly = !mem.writable || writer < 0 || writer >= this.writers;
    this.block = Math.max(0, writer) * this.max * FN_RECORD_F64;
  }

  /** Word offset of function `id`'s record in this writer's block, or -1 when the id is beyond the table. */
  private base(id: number): number {
    return id >= 0 && id < this.max ? this.block + id * FN_RECORD_F64 : -1;
  }

  private check(what: string): void {
    if (this.readOnly) throw readOnlyError(this.mem.name, `FunctionStats.${what}`);
  }

  add(id: number, counter: number, n = 1): void {
    this.check('add');
    const b = this.base(id);
    if (b >= 0) this.f64[b + counter] += n;
  }

  set(id: number, counter: number, v: number): void {
    this.check('set');
    const b = this.base(id);
    if (b >= 0) this.f64[b + counter] = v;
  }

  record(id: number, histogram: number, micros: number): void {
    this.check('record');
    const b = this.base(id);
    if (b >= 0) record(this.f64, b + FN_COUNTERS + histogram * HISTOGRAM_SLOTS, micros);
  }

  /** A counter summed over every gateway. */
  get(id: number, counter: number): number {
    if (id < 0 || id >= this.max) return 0;
    let sum = 0;
    for (let w = 0; w < this.writers; w++) sum += this.f64[(w * this.max + id) * FN_RECORD_F64 + counter];
    return sum;
  }

  /** How many values a histogram holds, summed over every gateway: unchanged, the histogram is. */
  histogramCount(id: number, histogram: number): number {
    if (id < 0 || id >= this.max) return 0;
    let n = 0;
    for (let w = 0; w < this.writers; w++) n += recordCount(this.f64, (w * this.max + id) * FN_RECORD_F64 + FN_COUNTERS + histogram * HISTOGRAM_SLOTS);
    return n;
  }

  /** A histogram summed over every gateway. */
  histogram(id: number, histogram: number): HistogramSnapshot {
    const h = new HistogramSnapshot();
    if (id < 0 || id >= this.max) return h;
    for (let w = 0; w < this.writers; w++) h.add(this.f64, (w * this.max + id) * FN_RECORD_F64 + FN_COUNTERS + histogram * HISTOGRAM_SLOTS);
    return h;
  }
}

/** The per-process record in slot `slot` (a gateway's process-table slot, a container's domain stats slot). */
export class ProcessStats {
  private readonly f64: Float64Array;
  private readonly b: number;
  private readonly mem: SegmentMemory;
  /** Mapped read-only: the writing methods throw EACCES instead of storing. */
  private readonly readOnly: boolean;

  constructor(mem: SegmentMemory, slot: number) {
    if (!(slot >= 0 && slot < mem.layout.statsSlots)) throw new RangeError(`stats slot ${slot} is outside ${mem.name}'s ${mem.layout.statsSlots} records`);
    this.mem = mem;
    this.readOnly = !mem.writable;
    this.f64 = mem.f64;
    this.b = (mem.layout.procStatsOffset - mem.layout.fnStatsOffset) / 8 + slot * PS_RECORD_F64;
  }

  private check(what: string): void {
    if (this.readOnly) throw readOnlyError(this.mem.name, `ProcessStats.${what}`);
  }

  reset(functionId: number): void {
    this.check('reset');
    this.f64.fill(0, this.b, this.b + PS_RECORD_F64);
    this.f64[this.b + PS_FUNCTION] = functionId;
  }

  handled(micros: number, failed: boolean): void {
    this.check('handled');
    this.f64[this.b + PS_REQUESTS]++;
    if (failed) this.f64[this.b + PS_ERRORS]++;
    record(this.f64, this.b + PS_COUNTERS + MAX_CLASSES, micros);
  }

  /** A spin for an answer (spin.ts): whether the answer came, and the CPU time it used. */
  polled(answered: boolean, cpuMicros: number): void {
    this.check('polled');
    this.f64[this.b + (answered ? PS_POLL_HITS : PS_POLL_MISSES)]++;
    this.f64[this.b + PS_POLL_US] += cpuMicros;
  }

  /** A wait that went straight to epoll: answers had been slower than the polling budget. */
  parked(): void {
    this.check('parked');
    this.f64[this.b + PS_POLL_PARKED]++;
  }

  get polling(): { answered: number; timedOut: number; parked: number; micros: number } {
    const f = this.f64;
    const b = this.b;
    return { answered: sane(f[b + PS_POLL_HITS]), timedOut: sane(f[b + PS_POLL_MISSES]), parked: sane(f[b + PS_POLL_PARKED]), micros: Number.isFinite(f[b + PS_POLL_US]) && f[b + PS_POLL_US] >= 0 ? f[b + PS_POLL_US] : 0 };
  }

  get requests(): number {
    return sane(this.f64[this.b + PS_REQUESTS]);
  }

  get errors(): number {
    return sane(this.f64[this.b + PS_ERRORS]);
  }

  /** How many values the handler-time histogram holds: unchanged, the histogram is. */
  histogramCount(): number {
    return recordCount(this.f64, this.b + PS_COUNTERS + MAX_CLASSES);
  }

  /** Handler-time histogram of this process. */
  histogram(): HistogramSnapshot {
    return new HistogramSnapshot().add(this.f64, this.b + PS_COUNTERS + MAX_CLASSES);
  }
}
