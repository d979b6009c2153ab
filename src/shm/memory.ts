// The small view of a mapped segment that the tables over it need: where the words are and how to
// see the bytes. The pool, the process table and the stats records take this, not the Segment
// that made it, so they can be built over any mapping (and read on their own).
import type { HeaderInfo } from './header.js';
import type { Layout } from './layout.js';

export interface SegmentMemory {
  /** The shm name, for error messages. */
  readonly name: string;
  /** False for a read-only attach: every mutating method of a table over it throws EACCES. */
  readonly writable: boolean;
  readonly header: HeaderInfo;
  readonly layout: Layout;
  /** The whole mapping, one ArrayBuffer per GiB (Node 20 aborts on one over 4 GiB). */
  readonly views: ArrayBuffer[];
  readonly viewBytes: number;
  /** i32 words over the metadata: header, process table, packet table, bitmaps, counters. */
  readonly i32: Int32Array;
  /** f64 words over the stats records. */
  readonly f64: Float64Array;
  readonly isClosed: boolean;
  /** Bytes of [offset, offset + length) that are backed by memory now. */
  resident(offset: number, length: number): number;
}
