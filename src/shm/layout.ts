// Where everything goes in a segment, computed from a few parameters. Pure: the header stores the
// parameters and the offsets, and an attach recomputes the offsets from the parameters and refuses
// a header that disagrees (header.ts), so a damaged header can never point anyone outside the
// segment. In order: header · process table · packet table · class bitmaps and counters ·
// (cache line) function stats · process stats · packet arenas.
import { ShmError } from './errors.js';
import {
  BITMAP_BITS, CACHE_LINE, CLASS_COUNTER_WORDS, F64_BYTES, FN_RECORD_F64, HEADER_BYTES, I32_BYTES, MAX_CLASSES, MAX_CLASS_BYTES, MAX_FN_WRITERS,
  MAX_FUNCTIONS, MAX_PROC_SLOTS, MAX_STATS_SLOTS, MIN_CLASS_BYTES, MIN_SEGMENT_BYTES, PKT_WORDS, PROC_WORDS, PS_RECORD_F64, type SegmentKind,
} from './constants.js';

export interface ClassSpec {
  /** Packet capacity in bytes: a power of two from 256 B to 1 GiB. */
  size: number;
  /** Number of packets; derived from the segment size when absent. */
  count?: number;
}

export interface LayoutParams {
  kind: SegmentKind;
  size: number;
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
  classes: ClassLayout[];
  packetCount: number;
  maxFunctions: number;
  fnWriters: number;
  procSlots: number;
  statsSlots: number;
  procOffset: number;
  packetOffset: number;
  bitmapOffset: number;
  fnStatsOffset: number;
  procStatsOffset: number;
  metaEnd: number;
}

/**
 * Default arena split by bytes: small packets are cheap and numerous, the largest class exists so
 * that a 16 MiB body fits but should not eat the pool.
 */
export const DEFAULT_CLASSES: ClassSpec[] = [{ size: 4096 }, { size: 65536 }, { size: 1 << 20 }, { size: 16 << 20 }];
/** A domain segment is never smaller than this: room for a few packets of every default class. */
export const MIN_DOMAIN_BYTES = 64 << 20;
/**
 * Share of the arena bytes each default class gets when its count is derived (any four classes
 * without counts): 1/8 to 4 KiB, 1/4 to 64 KiB, 3/8 to 1 MiB (the common large body), 1/4 to
 * 16 MiB. Other class lists split evenly.
 */
const DEFAULT_SHARES = [0.125, 0.25, 0.375, 0.25];

const align = (n: number, a: number) => Math.ceil(n / a) * a;
const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;

function metaBytes(counts: number[], p: LayoutParams) {
  const packets = counts.reduce((a, b) => a + b, 0);
  const bitmapWords = counts.reduce((a, c) => a + Math.ceil(c / BITMAP_BITS), 0);
  return (
    HEADER_BYTES +
    p.procSlots * PROC_WORDS * I32_BYTES +
    packets * PKT_WORDS * I32_BYTES +
    (bitmapWords + MAX_CLASSES * CLASS_COUNTER_WORDS) * I32_BYTES +
    CACHE_LINE + // worst-case padding before the cache-line-aligned stats records
    p.fnWriters * p.maxFunctions * FN_RECORD_F64 * F64_BYTES +
    p.statsSlots * PS_RECORD_F64 * F64_BYTES
  );
}

/** The smallest size a segment of these tables needs (a runtime segment's exact size, page-aligned). */
export function metadataSize(p: Omit<LayoutParams, 'size' | 'classes'>): number {
  return align(metaBytes([], { ...p, size: 0, classes: [] }), 4096);
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
  if (!Number.isSafeInteger(p.size) || p.size < MIN_SEGMENT_BYTES) bad(`segment size must be a whole number of bytes ≥ ${MIN_SEGMENT_BYTES} (got ${p.size})`);
  const minClasses = p.kind === 'domain' ? 1 : 0;
  if (p.classes.length < minClasses || p.classes.length > MAX_CLASSES) bad(`between ${minClasses} and ${MAX_CLASSES} size classes are allowed in a ${p.kind} segment (got ${p.classes.length})`);
  let prev = 0;
  for (const c of p.classes) {
    if (!isPow2(c.size) || c.size < MIN_CLASS_BYTES || c.size > MAX_CLASS_BYTES) bad(`size class ${c.size} must be a power of two from 256 B to 1 GiB`);
    if (c.size <= prev) bad('size classes must be listed smallest first, without repeats');
    if (c.count !== undefined && (!Number.isInteger(c.count) || c.count < 1)) bad(`packet count for class ${c.size} must be a positive integer`);
    prev = c.size;
  }
  if (!whole(p.maxFunctions, 0, MAX_FUNCTIONS)) bad(`maxFunctions must be 0..${MAX_FUNCTIONS}`);
  if (!whole(p.fnWriters, 0, MAX_FN_WRITERS)) bad(`fnWriters must be 0..${MAX_FN_WRITERS}`);
  if (!whole(p.procSlots, 0, MAX_PROC_SLOTS)) bad(`procSlots must be 0..${MAX_PROC_SLOTS}`);
  if (!whole(p.statsSlots, 0, MAX_STATS_SLOTS)) bad(`statsSlots must be 0..${MAX_STATS_SLOTS}`);

  // Derive counts from byte shares of what the metadata leaves, then shrink the derived counts
  // until the arenas (each aligned to its packet size) fit.
  const shares = p.classes.length === DEFAULT_SHARES.length ? DEFAULT_SHARES : p.classes.map(() => 1 / p.classes.length);
  const fixed = p.classes.reduce((a, c) => a + (c.count ?? 0) * c.size, 0);
  const autoShare = p.classes.reduce((a, c, i) => a + (c.count === undefined ? shares[i] : 0), 0);
  const room = p.size - metaBytes(p.classes.map((c) => c.count ?? 0), p) - fixed;
  let scale = 1;
  for (let attempt = 0; ; attempt++) {
    const counts = p.classes.map((c, i) => c.count ?? Math.max(1, Math.floor((room * scale * shares[i]) / autoShare / c.size)));
    const placed = place(counts, p, bad);
    if (placed) return placed;
    if (attempt > 200 || autoShare === 0) break;
    scale *= 0.97;
  }
  return bad(`the packet classes do not fit in a segment of ${p.size} bytes: raise the segment size or lower the packet counts`);
}

function place(counts: number[], p: LayoutParams, bad: (msg: string) => never): Layout | null {
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
  const fnStatsOffset = align(word * I32_BYTES, CACHE_LINE);
  const procStatsOffset = fnStatsOffset + p.fnWriters * p.maxFunctions * FN_RECORD_F64 * F64_BYTES;
  const metaEnd = procStatsOffset + p.statsSlots * PS_RECORD_F64 * F64_BYTES;
  // The metadata is addressed through the first view (Segment.i32/f64), which is 1 GiB.
  if (metaEnd > MAX_CLASS_BYTES) bad('metadata exceeds 1 GiB: use fewer or larger packets');
  if (metaEnd > p.size) return null;

  // Smallest class first: small arenas fill the gap up to the next large alignment boundary.
  let offset = metaEnd;
  const arenas = p.classes.map((c, i) => {
    offset = align(offset, c.size);
    const at = offset;
    offset += counts[i] * c.size;
    return at;
  });
  if (offset > p.size) return null;
  let first = 0;
  const classes: ClassLayout[] = p.classes.map((c, i) => {
    const cl = { index: i, size: c.size, count: counts[i], firstPacket: first, arenaOffset: arenas[i], ...classesMeta[i], counterWord: counterBase + i * CLASS_COUNTER_WORDS };
    first += counts[i];
    return cl;
  });
  return {
    kind: p.kind, size: p.size, classes, packetCount, maxFunctions: p.maxFunctions, fnWriters: p.fnWriters, procSlots: p.procSlots, statsSlots: p.statsSlots,
    procOffset, packetOffset, bitmapOffset, fnStatsOffset, procStatsOffset, metaEnd,
  };
}

/** The class of packet `index`: from the layout alone, never from a word in the segment (which a container could change). */
export function classOfPacket(l: Layout, index: number): ClassLayout | undefined {
  for (const c of l.classes) if (index >= c.firstPacket && index < c.firstPacket + c.count) return c;
  return undefined;
}
