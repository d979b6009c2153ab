// Stats records inside the segment. Each record has exactly one writer (the gateway writes the
// per-function records, each process its own per-process record), so the request path updates
// them with plain stores: no messages, no locks, no contended cache lines. Readers (`top`,
// `/metrics`, `shm inspect`) map the segment read-only and read whenever they like; an aligned
// f64 store is atomic on every platform Node runs on, so a reader never sees a torn value.
import { HistogramSnapshot, HISTOGRAM_SLOTS, record } from './histogram.js';
import { FN_COUNTERS, FN_RECORD_F64, PS_ALLOC_FAIL, PS_COUNTERS, PS_ERRORS, PS_FUNCTION, PS_POLL_HITS, PS_POLL_MISSES, PS_POLL_PARKED, PS_POLL_US, PS_RECORD_F64, PS_REQUESTS, MAX_CLASSES } from './layout.js';
import { readOnlyError } from './errors.js';
import type { Segment } from './segment.js';

/** Histogram numbers inside a function record. */
export const H_TOTAL = 0; // gateway: request received → reply written
export const H_QUEUE = 1; // gateway: time waiting for a free replica
export const H_CONTAINER = 2; // gateway: descriptor sent → reply descriptor received
export const H_REPLY = 3; // gateway: reply descriptor received → reply written to the client

export class FunctionStats {
  private readonly f64: Float64Array;
  private readonly max: number;
  private readonly seg: Segment;
  /** Mapped read-only: the writing methods throw EACCES instead of storing. */
  private readonly readOnly: boolean;

  constructor(seg: Segment) {
    this.seg = seg;
    this.f64 = seg.f64;
    this.max = seg.layout.maxFunctions;
    this.readOnly = !seg.writable;
  }

  /** Word offset of function `id`'s record, or -1 when the id is beyond the stats table. */
  base(id: number): number {
    return id >= 0 && id < this.max ? id * FN_RECORD_F64 : -1;
  }

  add(id: number, counter: number, n = 1): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'FunctionStats.add');
    const b = this.base(id);
    if (b >= 0) this.f64[b + counter] += n;
  }

  set(id: number, counter: number, v: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'FunctionStats.set');
    const b = this.base(id);
    if (b >= 0) this.f64[b + counter] = v;
  }

  get(id: number, counter: number): number {
    const b = this.base(id);
    return b >= 0 ? this.f64[b + counter] : 0;
  }

  record(id: number, histogram: number, micros: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'FunctionStats.record');
    const b = this.base(id);
    if (b >= 0) record(this.f64, b + FN_COUNTERS + histogram * HISTOGRAM_SLOTS, micros);
  }

  histogram(id: number, histogram: number): HistogramSnapshot {
    const h = new HistogramSnapshot();
    const b = this.base(id);
    return b >= 0 ? h.add(this.f64, b + FN_COUNTERS + histogram * HISTOGRAM_SLOTS) : h;
  }
}

/** The per-process record in slot `slot` (the process-table slot of the writer). */
export class ProcessStats {
  private readonly f64: Float64Array;
  private readonly b: number;
  private readonly seg: Segment;
  /** Mapped read-only: the writing methods throw EACCES instead of storing. */
  private readonly readOnly: boolean;

  constructor(seg: Segment, slot: number) {
    this.seg = seg;
    this.readOnly = !seg.writable;
    this.f64 = seg.f64;
    this.b = (seg.layout.procStatsOffset - seg.layout.fnStatsOffset) / 8 + slot * PS_RECORD_F64;
  }

  reset(functionId: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'ProcessStats.reset');
    this.f64.fill(0, this.b, this.b + PS_RECORD_F64);
    this.f64[this.b + PS_FUNCTION] = functionId;
  }

  handled(micros: number, failed: boolean): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'ProcessStats.handled');
    this.f64[this.b + PS_REQUESTS]++;
    if (failed) this.f64[this.b + PS_ERRORS]++;
    record(this.f64, this.b + PS_COUNTERS + MAX_CLASSES, micros);
  }

  /** A spin for an answer (spin.ts): whether the answer came, and the CPU time it used. */
  polled(answered: boolean, cpuMicros: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'ProcessStats.polled');
    this.f64[this.b + (answered ? PS_POLL_HITS : PS_POLL_MISSES)]++;
    this.f64[this.b + PS_POLL_US] += cpuMicros;
  }

  /** A wait that went straight to epoll: answers had been slower than the polling budget. */
  parked(): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'ProcessStats.parked');
    this.f64[this.b + PS_POLL_PARKED]++;
  }

  get polling(): { answered: number; timedOut: number; parked: number; micros: number } {
    const f = this.f64;
    const b = this.b;
    return { answered: f[b + PS_POLL_HITS], timedOut: f[b + PS_POLL_MISSES], parked: f[b + PS_POLL_PARKED], micros: f[b + PS_POLL_US] };
  }

  allocFailed(classIndex: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'ProcessStats.allocFailed');
    this.f64[this.b + PS_ALLOC_FAIL + classIndex]++;
  }

  get requests(): number {
    return this.f64[this.b + PS_REQUESTS];
  }

  get errors(): number {
    return this.f64[this.b + PS_ERRORS];
  }

  /** Handler-time histogram of this process. */
  histogram(): HistogramSnapshot {
    return new HistogramSnapshot().add(this.f64, this.b + PS_COUNTERS + MAX_CLASSES);
  }
}
