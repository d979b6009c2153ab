// The segment's versioned layout. Everything inside the segment is addressed by offsets from its
// start (never pointers: every process maps it at a different address). The header is written
// once by the creator and checked by every process that attaches.
import { ShmError } from './errors.js';
import { HISTOGRAM_SLOTS } from './histogram.js';

/** 'FAAS' little-endian: a segment that does not start with this is not ours. */
export const MAGIC = 0x53414146;
/** Bumped on any change to the byte layout; an attach with a different value is refused. */
export const LAYOUT_VERSION = 1;
/** The header fits in one page so that page is all `top` touches to identify a segment. */
export const HEADER_BYTES = 4096;
/** Up to 8 size classes: enough for 4 KiB..16 MiB in powers of 16 with room to spare. */
export const MAX_CLASSES = 8;
/** Bytes per class record in the header (f64 arena offset + six u32 + padding). */
const CLASS_RECORD_BYTES = 32;
const CLASS_TABLE_OFFSET = 128;
const NAME_OFFSET = CLASS_TABLE_OFFSET + MAX_CLASSES * CLASS_RECORD_BYTES;
/** The instance name is stored for `shm ls`; 64 bytes matches the config's name limit. */
export const NAME_BYTES = 64;

/** Packet table entry: 8 × i32 = 32 bytes, so two entries share a 64-byte cache line at most. */
export const PKT_WORDS = 8;
export const PKT_OWNER = 0; // pid that holds the packet; 0 = free (the allocation truth)
export const PKT_GEN = 1; // bumped on every alloc; descriptors carry it
export const PKT_LENGTH = 2;
export const PKT_FUNCTION = 3;
export const PKT_REQUEST = 4;
export const PKT_TIME = 5; // ms since segment creation at alloc, for age in `shm inspect`
export const PKT_META = 6;
export const PKT_CLASS = 7;

/** Process table slot: 16 × i32 = 64 bytes, one cache line, one writer (the supervisor). */
export const PROC_WORDS = 16;
export const PROC_PID = 0;
export const PROC_ROLE = 1;
export const PROC_FUNCTION = 2;
export const PROC_REPLICA = 3;
export const PROC_STATE = 4;
export const PROC_HEARTBEAT = 5; // seconds since segment creation
export const PROC_RESTARTS = 6;
export const PROC_STARTED = 7; // seconds since segment creation
export const ROLES = ['none', 'supervisor', 'gateway', 'proxy', 'container'] as const;
export type Role = (typeof ROLES)[number];

/** Per-function stats record, f64 words written by the gateway only (single writer, no atomics). */
export const FN_COUNTERS = 16;
export const FN_REQUESTS = 0;
export const FN_2XX = 1;
export const FN_4XX = 2;
export const FN_5XX = 3;
export const FN_BYTES_IN = 4;
export const FN_BYTES_OUT = 5;
export const FN_INFLIGHT = 6;
export const FN_REJECTED = 7; // 503: pool or queue exhausted
export const FN_TIMEOUTS = 8;
export const FN_QUEUED = 9; // current queue depth
/** Histograms per function: end to end, time queued in the proxy, container round trip. */
export const FN_HISTOGRAMS = 3;
export const FN_RECORD_F64 = FN_COUNTERS + FN_HISTOGRAMS * HISTOGRAM_SLOTS;

/** Per-process stats record, f64 words written only by that process. */
export const PS_COUNTERS = 16;
export const PS_REQUESTS = 0;
export const PS_ERRORS = 1;
export const PS_FUNCTION = 2;
export const PS_ALLOC_FAIL = 3; // + class index (up to MAX_CLASSES)
/** Polling for answers (runtime/spin.ts): spins answered, spins that ran out, waits not spun, CPU µs spun. */
export const PS_POLL_HITS = 11;
export const PS_POLL_MISSES = 12;
export const PS_POLL_PARKED = 13;
export const PS_POLL_US = 14;
export const PS_RECORD_F64 = PS_COUNTERS + MAX_CLASSES + HISTOGRAM_SLOTS;

export interface ClassSpec {
  /** Packet capacity in bytes: a power of two from 256 B to 1 GiB. */
  size: number;
  /** Number of packets; derived from the segment size when absent. */
  count?: number;
}

export interface LayoutParams {
  size: number;
  classes: ClassSpec[];
  maxFunctions: number;
  procSlots: number;
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
  size: number;
  classes: ClassLayout[];
  packetCount: number;
  maxFunctions: number;
  procSlots: number;
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
const DEFAULT_SHARES = [0.125, 0.25, 0.375, 0.25];

const align = (n: number, a: number) => Math.ceil(n / a) * a;
const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;

function metaBytes(counts: number[], p: LayoutParams) {
  const packets = counts.reduce((a, b) => a + b, 0);
  const bitmapWords = counts.reduce((a, c) => a + Math.ceil(c / 32), 0);
  return (
    HEADER_BYTES +
    p.procSlots * PROC_WORDS * 4 +
    packets * PKT_WORDS * 4 +
    (bitmapWords + MAX_CLASSES * 2) * 4 +
    64 +
    p.maxFunctions * FN_RECORD_F64 * 8 +
    p.procSlots * PS_RECORD_F64 * 8
  );
}

/** Validates the parameters and computes every offset. Throws ShmError('EINVAL') naming the field. */
export function computeLayout(p: LayoutParams): Layout {
  const bad = (msg: string): never => {
    throw new ShmError(msg, 'EINVAL');
  };
  if (!Number.isSafeInteger(p.size) || p.size < 1 << 20) bad(`segment size must be a whole number of bytes ≥ 1 MiB (got ${p.size})`);
  if (p.classes.length === 0 || p.classes.length > MAX_CLASSES) bad(`between 1 and ${MAX_CLASSES} size classes are allowed (got ${p.classes.length})`);
  let prev = 0;
  for (const c of p.classes) {
    if (!isPow2(c.size) || c.size < 256 || c.size > 1 << 30) bad(`size class ${c.size} must be a power of two from 256 B to 1 GiB`);
    if (c.size <= prev) bad('size classes must be listed smallest first, without repeats');
    if (c.count !== undefined && (!Number.isInteger(c.count) || c.count < 1)) bad(`packet count for class ${c.size} must be a positive integer`);
    prev = c.size;
  }
  if (!Number.isInteger(p.maxFunctions) || p.maxFunctions < 1 || p.maxFunctions > 4096) bad('maxFunctions must be 1..4096');
  if (!Number.isInteger(p.procSlots) || p.procSlots < 4 || p.procSlots > 4096) bad('procSlots must be 4..4096');

  // Derive counts from byte shares of what the metadata leaves, then shrink the derived counts
  // until the arenas (each aligned to its packet size) fit.
  const shares = p.classes.length === DEFAULT_SHARES.length ? DEFAULT_SHARES : p.classes.map(() => 1 / p.classes.length);
  const fixed = p.classes.reduce((a, c) => a + (c.count ?? 0) * c.size, 0);
  const autoShare = p.classes.reduce((a, c, i) => a + (c.count === undefined ? shares[i] : 0), 0);
  const room = p.size - metaBytes(p.classes.map((c) => c.count ?? 0), p) - fixed;
  let scale = 1;
  for (let attempt = 0; ; attempt++) {
    const counts = p.classes.map((c, i) => c.count ?? Math.max(1, Math.floor((room * scale * shares[i]) / autoShare / c.size)));
    const placed = place(counts, p);
    if (placed) return placed;
    if (attempt > 200 || autoShare === 0) break;
    scale *= 0.97;
  }
  return bad(`the packet classes do not fit in a segment of ${p.size} bytes: raise the segment size or lower the packet counts`);
}

function place(counts: number[], p: LayoutParams): Layout | null {
  const procOffset = HEADER_BYTES;
  const packetOffset = procOffset + p.procSlots * PROC_WORDS * 4;
  const packetCount = counts.reduce((a, b) => a + b, 0);
  const bitmapOffset = packetOffset + packetCount * PKT_WORDS * 4;
  let word = bitmapOffset / 4;
  const classesMeta = p.classes.map((_c, i) => {
    const bitmapWords = Math.ceil(counts[i] / 32);
    const r = { bitmapWord: word, bitmapWords };
    word += bitmapWords;
    return r;
  });
  const counterBase = word;
  word += MAX_CLASSES * 2;
  const fnStatsOffset = align(word * 4, 64);
  const procStatsOffset = fnStatsOffset + p.maxFunctions * FN_RECORD_F64 * 8;
  const metaEnd = procStatsOffset + p.procSlots * PS_RECORD_F64 * 8;
  if (metaEnd > 1 << 30) throw new ShmError('metadata exceeds 1 GiB: use fewer or larger packets', 'EINVAL');

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
    const cl = {
      index: i,
      size: c.size,
      count: counts[i],
      firstPacket: first,
      arenaOffset: arenas[i],
      ...classesMeta[i],
      counterWord: counterBase + i * 2,
    };
    first += counts[i];
    return cl;
  });
  return { size: p.size, classes, packetCount, maxFunctions: p.maxFunctions, procSlots: p.procSlots, procOffset, packetOffset, bitmapOffset, fnStatsOffset, procStatsOffset, metaEnd };
}

export interface HeaderInfo {
  magic: number;
  version: number;
  size: number;
  creatorPid: number;
  createdAt: number;
  name: string;
  layout: Layout;
}

/** Writes the header of a freshly created (zero-filled) segment. */
export function writeHeader(view: DataView, l: Layout, creatorPid: number, name: string, createdAt: number): void {
  view.setUint32(4, LAYOUT_VERSION, true);
  view.setFloat64(8, l.size, true);
  view.setUint32(16, creatorPid, true);
  view.setFloat64(24, createdAt, true);
  view.setUint32(32, l.classes.length, true);
  view.setUint32(36, l.packetCount, true);
  view.setUint32(40, l.procOffset, true);
  view.setUint32(44, l.procSlots, true);
  view.setUint32(48, l.packetOffset, true);
  view.setUint32(52, l.bitmapOffset, true);
  view.setUint32(56, l.fnStatsOffset, true);
  view.setUint32(60, l.maxFunctions, true);
  view.setUint32(64, l.procStatsOffset, true);
  view.setUint32(68, l.metaEnd, true);
  l.classes.forEach((c, i) => {
    const o = CLASS_TABLE_OFFSET + i * CLASS_RECORD_BYTES;
    view.setFloat64(o, c.arenaOffset, true);
    view.setUint32(o + 8, c.size, true);
    view.setUint32(o + 12, c.count, true);
    view.setUint32(o + 16, c.firstPacket, true);
    view.setUint32(o + 20, c.bitmapWord, true);
    view.setUint32(o + 24, c.bitmapWords, true);
    view.setUint32(o + 28, c.counterWord, true);
  });
  const bytes = new TextEncoder().encode(name).subarray(0, NAME_BYTES);
  new Uint8Array(view.buffer, view.byteOffset + NAME_OFFSET, NAME_BYTES).set(bytes);
  // Magic last: a reader that sees it knows the rest of the header is complete.
  view.setUint32(0, MAGIC, true);
}

/** Reads and checks a header; `actualSize` is the mapped size, to catch a truncated segment. */
export function readHeader(view: DataView, actualSize: number, segment: string): HeaderInfo {
  if (actualSize < HEADER_BYTES) throw new ShmError(`${segment} is ${actualSize} bytes: too small to be a faasflow segment (truncated?)`, 'ETRUNCATED', segment);
  const magic = view.getUint32(0, true);
  if (magic !== MAGIC) throw new ShmError(`${segment} is not a faasflow segment (magic 0x${magic.toString(16)}, expected 0x${MAGIC.toString(16)})`, 'EBADMAGIC', segment);
  const version = view.getUint32(4, true);
  if (version !== LAYOUT_VERSION) {
    throw new ShmError(`${segment} has layout version ${version}, this faasflow reads version ${LAYOUT_VERSION}: stop the instance that made it and run \`faasflow down --clean-shm\``, 'EVERSION', segment);
  }
  const size = view.getFloat64(8, true);
  if (size !== actualSize) throw new ShmError(`${segment} header says ${size} bytes but the segment is ${actualSize} (truncated or resized)`, 'ETRUNCATED', segment);
  const classCount = view.getUint32(32, true);
  if (classCount < 1 || classCount > MAX_CLASSES) throw new ShmError(`${segment} has a corrupt header (${classCount} size classes)`, 'EBADMAGIC', segment);
  const classes: ClassLayout[] = [];
  for (let i = 0; i < classCount; i++) {
    const o = CLASS_TABLE_OFFSET + i * CLASS_RECORD_BYTES;
    classes.push({
      index: i,
      arenaOffset: view.getFloat64(o, true),
      size: view.getUint32(o + 8, true),
      count: view.getUint32(o + 12, true),
      firstPacket: view.getUint32(o + 16, true),
      bitmapWord: view.getUint32(o + 20, true),
      bitmapWords: view.getUint32(o + 24, true),
      counterWord: view.getUint32(o + 28, true),
    });
  }
  const layout: Layout = {
    size,
    classes,
    packetCount: view.getUint32(36, true),
    procOffset: view.getUint32(40, true),
    procSlots: view.getUint32(44, true),
    packetOffset: view.getUint32(48, true),
    bitmapOffset: view.getUint32(52, true),
    fnStatsOffset: view.getUint32(56, true),
    maxFunctions: view.getUint32(60, true),
    procStatsOffset: view.getUint32(64, true),
    metaEnd: view.getUint32(68, true),
  };
  for (const c of classes) {
    if (c.arenaOffset + c.count * c.size > actualSize) throw new ShmError(`${segment} is truncated: class ${c.size} ends past the segment`, 'ETRUNCATED', segment);
  }
  const raw = new Uint8Array(view.buffer, view.byteOffset + NAME_OFFSET, NAME_BYTES);
  const end = raw.indexOf(0);
  const name = new TextDecoder().decode(raw.subarray(0, end < 0 ? NAME_BYTES : end));
  return { magic, version, size, creatorPid: view.getUint32(16, true), createdAt: view.getFloat64(24, true), name, layout };
}
