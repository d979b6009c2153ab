// Where everything goes in a segment, computed from a few parameters. Pure: the header stores the
// parameters and the offsets, and an attach recomputes the offsets from the parameters and refuses
// a header that disagrees (header.ts), so a damaged header can never point anyone outside the
// segment. In order: header · process table · packet table · class bitmaps and counters · the
// domain's memory counters · (cache line) function stats · process stats · packet arenas.
import { ShmError } from './errors.js';
import {
  BITMAP_BITS, BUDGET_UNIT, CACHE_LINE, CLASS_COUNTER_WORDS, CLASS_PACKET_CAP, F64_BYTES, FN_RECORD_F64, HEADER_BYTES, I32_BYTES, MAX_BUDGET, MAX_CLASSES,
  MAX_CLASS_BYTES, MAX_FN_WRITERS, MAX_FUNCTIONS, MAX_PROC_SLOTS, MAX_STATS_SLOTS, MIN_CLASS_BYTES, MIN_SEGMENT_BYTES, PKT_WORDS, POOL_COUNTER_WORDS, PROC_WORDS,
  PS_RECORD_F64, type SegmentKind,
} from './constants.js';

export interface ClassSpec {
  /** Packet capacity in bytes: a power of two from 256 B to 1 GiB. */
  size: number;
  /** Number of packets; derived from the budget when absent. */
  count?: number;
}

export interface LayoutParams {
  kind: SegmentKind;
  /** Bytes of the segment; default: exactly what its tables and packet arenas need (page-aligned). */
  size?: number;
  /**
   * A domain segment's budget: bytes of packets it may hold at once. Each class whose count is
   * not given gets enough packets to hold all of it (at most CLASS_PACKET_CAP). Default: every
   * packet's bytes when each class lists its count; else the most that fits in `size` when that
   * is given; else MIN_DOMAIN_BYTES. Never more than the packets hold. None in a runtime segment.
   */
  budget?: number;
  /** Packet classes; none in a runtime segment. */
  classes: ClassSpec[];
  /** Function ids with stats records (0 in a domain segment). */
  maxFunctions: number;
  /** Blocks of function records, one per gateway (0 in a domain segment). */
  fnWriters: number;
  /** Process-table slots (0 in a domain segment). */
  procSlots: number;
  /** Per-process stats records. */
  statsSlots: number;
}

export interface ClassLayout {
  index: number;
  size: number;
  count: number;
  firstPacket: number;
  arenaOffset: number;
  bitmapWord: number; // i32 index of the class's first bitmap word
  bitmapWords: number;
  counterWord: number; // i32 index: [inUse, highWater] maintained with Atomics
}

export interface Layout {
  kind: SegmentKind;
  size: number;
  /** Bytes of packets the domain may hold at once (0 in a runtime segment). */
  budget: number;
  classes: ClassLayout[];
  packetCount: number;
  maxFunctions: number;
  fnWriters: number;
  procSlots: number;
  statsSlots: number;
  procOffset: number;
  packetOffset: number;
  bitmapOffset: number;
  /** i32 index of the domain's memory counters (POOL_CHARGED, POOL_WAITS, POOL_REFUSED). */
  poolWord: number;
  fnStatsOffset: number;
  procStatsOffset: number;
  metaEnd: number;
}

/** The smallest and the largest packet of the default classes. */
const DEFAULT_SMALLEST = 4096;
const DEFAULT_LARGEST = 16 << 20;
/**
 * Every power of two from 4 KiB to 16 MiB (13 classes): a body of 4 KiB or more takes a packet
 * less than twice its size. Counts are derived from the budget.
 */
export const DEFAULT_CLASSES: ClassSpec[] = classRange(DEFAULT_SMALLEST, DEFAULT_LARGEST);
/** A domain segment's budget is never smaller than this: room for a few packets of the largest default class. */
export const MIN_DOMAIN_BYTES = 64 << 20;

/** Every power of two from `smallest` to `largest` as classes without counts. */
export function classRange(smallest: number, largest: number): ClassSpec[] {
  const out: ClassSpec[] = [];
  for (let s = smallest; s <= largest; s *= 2) out.push({ size: s });
  return out;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;
const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;

function metaBytes(counts: number[], p: LayoutParams) {
  const packets = counts.reduce((a, b) => a + b, 0);
  const bitmapWords = counts.reduce((a, c) => a + Math.ceil(c / BITMAP_BITS), 0);
  return (
    HEADER_BYTES +
    p.procSlots * PROC_WORDS * I32_BYTES +
    packets * PKT_WORDS * I32_BYTES +
    (bitmapWords + MAX_CLASSES * CLASS_COUNTER_WORDS + POOL_COUNTER_WORDS) * I32_BYTES +
    CACHE_LINE + // worst-case padding before the cache-line-aligned stats records
    p.fnWriters * p.maxFunctions * FN_RECORD_F64 * F64_BYTES +
    p.statsSlots * PS_RECORD_F64 * F64_BYTES
  );
}

/** The smallest size a segment of these tables needs (a runtime segment's exact size, page-aligned). */
export function metadataSize(p: Omit<LayoutParams, 'size' | 'classes' | 'budget'>): number {
  return align(metaBytes([], { ...p, classes: [] }), 4096);
}

/**
 * Packets per class for a budget: each class on its own can hold the whole budget (so a body is
 * served whenever its domain has that many bytes free, whatever its size), the small ones capped.
 */
export function countsFor(classes: ClassSpec[], budget: number): number[] {
  return classes.map((c) => c.count ?? Math.min(CLASS_PACKET_CAP, Math.max(1, Math.ceil(budget / c.size))));
}

/**
 * Budget kept back from new requests (the gateway admits them up to budget − this) for the
 * packets their handlers answer with: an eighth of the budget, at least the largest class. With
 * requests holding all of it, every handler would wait for a reply packet that no finished request
 * frees; with this much kept, at least one reply of any size can always be had once the replies
 * being written have gone out, so the requests keep finishing.
 */
export function replyReserve(l: { budget: number; classes: readonly { size: number }[] }): number {
  const largest = l.classes.length ? l.classes[l.classes.length - 1].size : 0;
  return Math.min(l.budget, Math.max(largest, align(l.budget / 8, BUDGET_UNIT)));
}

/** What new requests may take of the budget: the rest is kept for replies (replyReserve). */
export function requestLimit(l: { budget: number; classes: readonly { size: number }[] }): number {
  return l.budget - replyReserve(l);
}

/**
 * Validates the parameters and computes every offset. Throws ShmError('EINVAL') naming the field,
 * and `segment` (the segment being created) when given.
 */
export function computeLayout(p: LayoutParams, segment?: string): Layout {
  const bad = (msg: string): never => {
    throw new ShmError(segment === undefined ? msg : `${segment}: ${msg}`, 'EINVAL', segment);
  };
  const whole = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max;
  if (p.kind !== 'runtime' && p.kind !== 'domain') bad(`segment kind must be runtime or domain (got ${String(p.kind)})`);
  if (p.size !== undefined && (!Number.isSafeInteger(p.size) || p.size < MIN_SEGMENT_BYTES)) bad(`segment size must be a whole number of bytes ≥ ${MIN_SEGMENT_BYTES} (got ${p.size})`);
  const minClasses = p.kind === 'domain' ? 1 : 0;
  if (p.classes.length < minClasses || p.classes.length > MAX_CLASSES) bad(`between ${minClasses} and ${MAX_CLASSES} size classes are allowed in a ${p.kind} segment (got ${p.classes.length})`);
  let prev = 0;
  for (const c of p.classes) {
    if (!isPow2(c.size) || c.size < MIN_CLASS_BYTES || c.size > MAX_CLASS_BYTES) bad(`size class ${c.size} must be a power of two from 256 B to 1 GiB`);
    if (c.size <= prev) bad('size classes must be listed smallest first, without repeats');
    if (c.count !== undefined && (!Number.isInteger(c.count) || c.count < 1)) bad(`packet count for class ${c.size} must be a positive integer`);
    prev = c.size;
  }
  if (p.budget !== undefined && !whole(p.budget, 1, MAX_BUDGET)) bad(`budget must be a whole number of bytes from 1 to ${MAX_BUDGET} (got ${p.budget})`);
  if (!whole(p.maxFunctions, 0, MAX_FUNCTIONS)) bad(`maxFunctions must be 0..${MAX_FUNCTIONS}`);
  if (!whole(p.fnWriters, 0, MAX_FN_WRITERS)) bad(`fnWriters must be 0..${MAX_FN_WRITERS}`);
  if (!whole(p.procSlots, 0, MAX_PROC_SLOTS)) bad(`procSlots must be 0..${MAX_PROC_SLOTS}`);
  if (!whole(p.statsSlots, 0, MAX_STATS_SLOTS)) bad(`statsSlots must be 0..${MAX_STATS_SLOTS}`);

  const explicit = p.classes.every((c) => c.count !== undefined);
  const wanted = p.budget ?? (explicit ? MAX_BUDGET : p.size !== undefined ? fittingBudget(p, bad) : MIN_DOMAIN_BYTES);
  const placed = wanted > 0 ? withBudget(wanted, p, bad) : null;
  if (placed) return placed;
  return bad(`the packet classes do not fit in a segment of ${p.size} bytes: raise the segment size or lower the packet counts`);
}

/** The layout for a budget of `wanted` bytes (at most what its packets hold), or null when it does not fit in p.size. */
function withBudget(wanted: number, p: LayoutParams, bad: (msg: string) => never): Layout | null {
  const counts = countsFor(p.classes, wanted);
  const capacity = p.classes.reduce((a, c, i) => a + counts[i] * c.size, 0);
  return place(counts, p.kind === 'runtime' ? 0 : Math.min(wanted, capacity), p, bad);
}

/** A size and no budget (tools, tests): the largest budget, in whole budget units, whose packets fit in that size (0: none). */
function fittingBudget(p: LayoutParams, bad: (msg: string) => never): number {
  let lo = 0;
  let hi = Math.floor(Math.min(MAX_BUDGET, p.size!) / BUDGET_UNIT);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (withBudget(mid * BUDGET_UNIT, p, bad)) lo = mid;
    else hi = mid - 1;
  }
  return lo * BUDGET_UNIT;
}

function place(counts: number[], budget: number, p: LayoutParams, bad: (msg: string) => never): Layout | null {
  const procOffset = HEADER_BYTES;
  const packetOffset = procOffset + p.procSlots * PROC_WORDS * I32_BYTES;
  const packetCount = counts.reduce((a, b) => a + b, 0);
  const bitmapOffset = packetOffset + packetCount * PKT_WORDS * I32_BYTES;
  let word = bitmapOffset / I32_BYTES;
  const classesMeta = p.classes.map((_c, i) => {
    const bitmapWords = Math.ceil(counts[i] / BITMAP_BITS);
    const r = { bitmapWord: word, bitmapWords };
    word += bitmapWords;
    return r;
  });
  const counterBase = word;
  word += MAX_CLASSES * CLASS_COUNTER_WORDS;
  const poolWord = word;
  word += POOL_COUNTER_WORDS;
  const fnStatsOffset = align(word * I32_BYTES, CACHE_LINE);
  const procStatsOffset = fnStatsOffset + p.fnWriters * p.maxFunctions * FN_RECORD_F64 * F64_BYTES;
  const metaEnd = procStatsOffset + p.statsSlots * PS_RECORD_F64 * F64_BYTES;
  // The metadata is addressed through the first view (Segment.i32/f64), which is 1 GiB.
  if (metaEnd > MAX_CLASS_BYTES) bad('metadata exceeds 1 GiB: use fewer or larger packets');

  // Smallest class first: small arenas fill the gap up to the next large alignment boundary.
  let offset = metaEnd;
  const arenas = p.classes.map((c, i) => {
    offset = align(offset, c.size);
    const at = offset;
    offset += counts[i] * c.size;
    return at;
  });
  const size = p.size ?? align(offset, 4096);
  if (offset > size) return null;
  let first = 0;
  const classes: ClassLayout[] = p.classes.map((c, i) => {
    const cl = { index: i, size: c.size, count: counts[i], firstPacket: first, arenaOffset: arenas[i], ...classesMeta[i], counterWord: counterBase + i * CLASS_COUNTER_WORDS };
    first += counts[i];
    return cl;
  });
  return {
    kind: p.kind, size, budget, classes, packetCount, maxFunctions: p.maxFunctions, fnWriters: p.fnWriters, procSlots: p.procSlots, statsSlots: p.statsSlots,
    procOffset, packetOffset, bitmapOffset, poolWord, fnStatsOffset, procStatsOffset, metaEnd,
  };
}

/** The class of packet `index`: from the layout alone, never from a word in the segment (which a container could change). */
export function classOfPacket(l: Layout, index: number): ClassLayout | undefined {
  for (const c of l.classes) if (index >= c.firstPacket && index < c.firstPacket + c.count) return c;
  return undefined;
}
