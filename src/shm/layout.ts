// The segment's versioned layout. Everything inside the segment is addressed by offsets from its
// start (never pointers: every process maps it at a different address). The header is written
// once by the creator and checked by every process that attaches.
import { ShmError } from './errors.js';
import { HISTOGRAM_SLOTS } from './histogram.js';

/** Where POSIX shm names live as files (segment.ts's SHM_DIR; repeated here to keep layout.ts free of imports from segment.ts). */
const SHM_PATH_PREFIX = '/dev/shm';
/** 'FAAS' little-endian: a segment that does not start with this is not ours. */
export const MAGIC = 0x53414146;
/** Bumped on any change to the byte layout; an attach with a different value is refused. */
export const LAYOUT_VERSION = 2;
/** The header fits in one page so that page is all `top` touches to identify a segment. */
export const HEADER_BYTES = 4096;
/** Up to 8 size classes: enough for 4 KiB..16 MiB in powers of 16 with room to spare. */
export const MAX_CLASSES = 8;
/** Smallest packet class: below 256 B the packet's 32-byte table entry costs over 1/8 of the packet. */
export const MIN_CLASS_BYTES = 256;
/** Largest packet class: one JS view (native viewBytes) is 1 GiB and a packet never straddles two. */
export const MAX_CLASS_BYTES = 1 << 30;
/** Most function ids a segment has stats records for; function ids are 0 .. this − 1. */
export const MAX_FUNCTIONS = 4096;
/** Most process-table slots; 4096 processes is far beyond one host's useful replica count. */
export const MAX_PROC_SLOTS = 4096;
/** Fewest process-table slots: the supervisor, the gateway and at least two containers. */
export const MIN_PROC_SLOTS = 4;
/** Segments smaller than this cannot hold the metadata of the default tables plus any packets. */
export const MIN_SEGMENT_BYTES = 1 << 20;
/** The stats records start on a cache-line boundary, so no record shares a line with the counters. */
const CACHE_LINE = 64;
/** Bytes per word of the i32 tables (process table, packet table, bitmaps, counters). */
const I32_BYTES = 4;
/** Bytes per word of the f64 stats records. */
const F64_BYTES = 8;
/** Packets per free-bitmap word (one bit each in an i32). */
const BITMAP_BITS = 32;
/** i32 words per class of allocation counters: [inUse, highWater], updated with Atomics. */
const CLASS_COUNTER_WORDS = 2;

// Header fields: byte offsets into the first page. u32 unless marked f64 (sizes and offsets that
// can exceed 4 GiB, and the creation time in ms). Bytes 72..127 are free for future fields.
/** u32 MAGIC; written last by the creator, so a reader that sees it sees a complete header. */
export const HDR_MAGIC = 0;
/** u32 LAYOUT_VERSION. */
export const HDR_VERSION = 4;
/** f64 segment size in bytes (the file's size; compared on attach to catch truncation). */
export const HDR_SIZE = 8;
/** u32 pid of the process that created the segment (a dead creator makes a segment a candidate for cleanup). */
export const HDR_CREATOR = 16;
/** f64 creation time, ms since the epoch; packet ages and process times are relative to it. */
export const HDR_CREATED_AT = 24;
/** u32 number of size classes (1 .. MAX_CLASSES). */
export const HDR_CLASS_COUNT = 32;
/** u32 packets in all classes together. */
export const HDR_PACKET_COUNT = 36;
/** u32 byte offset of the process table. */
export const HDR_PROC_OFFSET = 40;
/** u32 process-table slots. */
export const HDR_PROC_SLOTS = 44;
/** u32 byte offset of the packet table. */
export const HDR_PACKET_OFFSET = 48;
/** u32 byte offset of the per-class free bitmaps. */
export const HDR_BITMAP_OFFSET = 52;
/** u32 byte offset of the per-function stats records. */
export const HDR_FN_STATS_OFFSET = 56;
/** u32 function stats records (function ids 0 .. maxFunctions − 1). */
export const HDR_MAX_FUNCTIONS = 60;
/** u32 byte offset of the per-process stats records. */
export const HDR_PROC_STATS_OFFSET = 64;
/** u32 end of all metadata; the first packet arena starts at or after it. */
export const HDR_META_END = 68;

/** Byte offset of the class table: past the fixed fields (end at 72), on a 64-byte line, with room to grow. */
export const CLASS_TABLE_OFFSET = 128;
/** Bytes per class record in the header (f64 arena offset + six u32 + 0 padding = 32, two per cache line). */
const CLASS_RECORD_BYTES = 32;
// Class record fields, byte offsets within a record.
/** f64 byte offset of the class's packet arena (can exceed 4 GiB). */
const CLS_ARENA = 0;
/** u32 packet capacity in bytes. */
const CLS_SIZE = 8;
/** u32 packets in the class. */
const CLS_COUNT = 12;
/** u32 index of the class's first packet in the packet table. */
const CLS_FIRST = 16;
/** u32 i32-word index of the class's first bitmap word. */
const CLS_BITMAP_WORD = 20;
/** u32 bitmap words of the class (32 packets each). */
const CLS_BITMAP_WORDS = 24;
/** u32 i32-word index of the class's [inUse, highWater] counters. */
const CLS_COUNTER_WORD = 28;
/** Byte offset of the instance name: right after the class table (128 + 8 × 32 = 384). */
export const NAME_OFFSET = CLASS_TABLE_OFFSET + MAX_CLASSES * CLASS_RECORD_BYTES;
/** The instance name is stored for `shm ls`; 64 bytes matches the config's name limit. */
export const NAME_BYTES = 64;

/** Packet table entry: 8 × i32 = 32 bytes, so two entries share a 64-byte cache line at most. */
export const PKT_WORDS = 8;
/** pid that holds the packet; 0 = free. The allocation truth, claimed by CAS. */
export const PKT_OWNER = 0;
/** Generation: bumped when the packet is freed; descriptors carry it, so a stale one is refused. */
export const PKT_GEN = 1;
/** Bytes of the body the holder put in the packet (for `shm inspect` and usage().bytesInUse). */
export const PKT_LENGTH = 2;
/** Function id of the request the packet carries (label()), for `shm inspect`. */
export const PKT_FUNCTION = 3;
/** Request id the packet carries (label(); read as u32), for `shm inspect`. */
export const PKT_REQUEST = 4;
/** ms since segment creation at alloc, for the packet's age in `shm inspect`. */
export const PKT_TIME = 5;
/** Bytes of request metadata behind the body (label()), for `shm inspect`. */
export const PKT_META = 6;
/** Index of the packet's size class: set once at init, never changes. */
export const PKT_CLASS = 7;

/** Process table slot: 16 × i32 = 64 bytes, one cache line, one writer (the supervisor). */
export const PROC_WORDS = 16;
/** pid in this slot; 0 = free. Stored last by register(), so a reader never sees a half-filled slot. */
export const PROC_PID = 0;
/** Index into ROLES. */
export const PROC_ROLE = 1;
/** Function id a container serves (0 for other roles). */
export const PROC_FUNCTION = 2;
/** Replica number of a container within its function. */
export const PROC_REPLICA = 3;
/** Index into PROC_STATES (proctable.ts). */
export const PROC_STATE = 4;
/** Seconds since segment creation at the last heartbeat. */
export const PROC_HEARTBEAT = 5;
/** Times the supervisor restarted this process. */
export const PROC_RESTARTS = 6;
/** Seconds since segment creation when the process was registered. */
export const PROC_STARTED = 7;
export const ROLES = ['none', 'supervisor', 'gateway', 'proxy', 'container'] as const;
export type Role = (typeof ROLES)[number];

// Per-function stats record, f64 words written by the gateway only (single writer, no atomics).
/** Counter words at the start of a function record (10 used, the rest spare), then the histograms. */
export const FN_COUNTERS = 16;
/** Requests received for the function. */
export const FN_REQUESTS = 0;
/** Replies with a 2xx status. */
export const FN_2XX = 1;
/** Replies with a 4xx status. */
export const FN_4XX = 2;
/** Replies with a 5xx status. */
export const FN_5XX = 3;
/** Request body bytes received. */
export const FN_BYTES_IN = 4;
/** Reply body bytes sent. */
export const FN_BYTES_OUT = 5;
/** Requests currently being handled (a gauge). */
export const FN_INFLIGHT = 6;
/** 503s: pool or queue exhausted. */
export const FN_REJECTED = 7;
/** 504s: the function did not answer in time. */
export const FN_TIMEOUTS = 8;
/** Current queue depth (a gauge). */
export const FN_QUEUED = 9;
/** Histograms per function: end to end, time queued in the proxy, container round trip, reply write. */
export const FN_HISTOGRAMS = 4;
/** f64 words per function record: counters, then FN_HISTOGRAMS histograms. */
export const FN_RECORD_F64 = FN_COUNTERS + FN_HISTOGRAMS * HISTOGRAM_SLOTS;

// Per-process stats record, f64 words written only by that process.
/** Counter words at the start of a process record; then MAX_CLASSES alloc-failure counters' room and the histogram. */
export const PS_COUNTERS = 16;
/** Requests this process handled. */
export const PS_REQUESTS = 0;
/** Of those, how many failed. */
export const PS_ERRORS = 1;
/** Function id this process serves (set by reset()). */
export const PS_FUNCTION = 2;
/** First of MAX_CLASSES words (3..10): allocations that found class i full. */
export const PS_ALLOC_FAIL = 3;
/** Polling for answers (runtime/spin.ts): spins answered. */
export const PS_POLL_HITS = 11;
/** Spins that ran out of time without an answer. */
export const PS_POLL_MISSES = 12;
/** Waits that went straight to epoll (answers had been too slow to spin for). */
export const PS_POLL_PARKED = 13;
/** CPU µs spent spinning. */
export const PS_POLL_US = 14;
/** f64 words per process record: counters, MAX_CLASSES spare words, the handler-time histogram. */
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
    p.maxFunctions * FN_RECORD_F64 * F64_BYTES +
    p.procSlots * PS_RECORD_F64 * F64_BYTES
  );
}

/**
 * Validates the parameters and computes every offset. Throws ShmError('EINVAL') naming the field,
 * and `segment` (the segment being created) when given.
 */
export function computeLayout(p: LayoutParams, segment?: string): Layout {
  const bad = (msg: string): never => {
    throw new ShmError(segment === undefined ? msg : `${segment}: ${msg}`, 'EINVAL', segment);
  };
  if (!Number.isSafeInteger(p.size) || p.size < MIN_SEGMENT_BYTES) bad(`segment size must be a whole number of bytes ≥ 1 MiB (got ${p.size})`);
  if (p.classes.length === 0 || p.classes.length > MAX_CLASSES) bad(`between 1 and ${MAX_CLASSES} size classes are allowed (got ${p.classes.length})`);
  let prev = 0;
  for (const c of p.classes) {
    if (!isPow2(c.size) || c.size < MIN_CLASS_BYTES || c.size > MAX_CLASS_BYTES) bad(`size class ${c.size} must be a power of two from 256 B to 1 GiB`);
    if (c.size <= prev) bad('size classes must be listed smallest first, without repeats');
    if (c.count !== undefined && (!Number.isInteger(c.count) || c.count < 1)) bad(`packet count for class ${c.size} must be a positive integer`);
    prev = c.size;
  }
  if (!Number.isInteger(p.maxFunctions) || p.maxFunctions < 1 || p.maxFunctions > MAX_FUNCTIONS) bad(`maxFunctions must be 1..${MAX_FUNCTIONS}`);
  if (!Number.isInteger(p.procSlots) || p.procSlots < MIN_PROC_SLOTS || p.procSlots > MAX_PROC_SLOTS) bad(`procSlots must be ${MIN_PROC_SLOTS}..${MAX_PROC_SLOTS}`);

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
  const procStatsOffset = fnStatsOffset + p.maxFunctions * FN_RECORD_F64 * F64_BYTES;
  const metaEnd = procStatsOffset + p.procSlots * PS_RECORD_F64 * F64_BYTES;
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
      counterWord: counterBase + i * CLASS_COUNTER_WORDS,
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
  view.setUint32(HDR_VERSION, LAYOUT_VERSION, true);
  view.setFloat64(HDR_SIZE, l.size, true);
  view.setUint32(HDR_CREATOR, creatorPid, true);
  view.setFloat64(HDR_CREATED_AT, createdAt, true);
  view.setUint32(HDR_CLASS_COUNT, l.classes.length, true);
  view.setUint32(HDR_PACKET_COUNT, l.packetCount, true);
  view.setUint32(HDR_PROC_OFFSET, l.procOffset, true);
  view.setUint32(HDR_PROC_SLOTS, l.procSlots, true);
  view.setUint32(HDR_PACKET_OFFSET, l.packetOffset, true);
  view.setUint32(HDR_BITMAP_OFFSET, l.bitmapOffset, true);
  view.setUint32(HDR_FN_STATS_OFFSET, l.fnStatsOffset, true);
  view.setUint32(HDR_MAX_FUNCTIONS, l.maxFunctions, true);
  view.setUint32(HDR_PROC_STATS_OFFSET, l.procStatsOffset, true);
  view.setUint32(HDR_META_END, l.metaEnd, true);
  l.classes.forEach((c, i) => {
    const o = CLASS_TABLE_OFFSET + i * CLASS_RECORD_BYTES;
    view.setFloat64(o + CLS_ARENA, c.arenaOffset, true);
    view.setUint32(o + CLS_SIZE, c.size, true);
    view.setUint32(o + CLS_COUNT, c.count, true);
    view.setUint32(o + CLS_FIRST, c.firstPacket, true);
    view.setUint32(o + CLS_BITMAP_WORD, c.bitmapWord, true);
    view.setUint32(o + CLS_BITMAP_WORDS, c.bitmapWords, true);
    view.setUint32(o + CLS_COUNTER_WORD, c.counterWord, true);
  });
  const bytes = new TextEncoder().encode(name).subarray(0, NAME_BYTES);
  new Uint8Array(view.buffer, view.byteOffset + NAME_OFFSET, NAME_BYTES).set(bytes);
  // Magic last: a reader that sees it knows the rest of the header is complete.
  view.setUint32(HDR_MAGIC, MAGIC, true);
}

/** The layout fields a header stores besides the parameters it is computed from. */
const DERIVED: ReadonlyArray<keyof Layout> = ['packetCount', 'procOffset', 'packetOffset', 'bitmapOffset', 'fnStatsOffset', 'procStatsOffset', 'metaEnd'];
const DERIVED_CLASS: ReadonlyArray<keyof ClassLayout> = ['firstPacket', 'arenaOffset', 'bitmapWord', 'bitmapWords', 'counterWord'];

/**
 * Reads and checks a header; `actualSize` is the mapped size, to catch a truncated segment. The
 * layout is recomputed from the header's own parameters (size, classes and their counts,
 * maxFunctions, procSlots) and every stored offset must match it exactly: a header that passes
 * can never point the pool outside its tables or the segment.
 */
export function readHeader(view: DataView, actualSize: number, segment: string): HeaderInfo {
  if (actualSize < HEADER_BYTES) throw new ShmError(`${segment} is ${actualSize} bytes: too small to be a faasflow segment (truncated?)`, 'ETRUNCATED', segment);
  const magic = view.getUint32(HDR_MAGIC, true);
  if (magic !== MAGIC) throw new ShmError(`${segment} is not a faasflow segment (magic 0x${magic.toString(16)}, expected 0x${MAGIC.toString(16)})`, 'EBADMAGIC', segment);
  const version = view.getUint32(HDR_VERSION, true);
  if (version !== LAYOUT_VERSION) {
    throw new ShmError(`${segment} has layout version ${version}, this faasflow reads version ${LAYOUT_VERSION}: stop the instance that made it and run \`faasflow down --clean-shm\``, 'EVERSION', segment);
  }
  const size = view.getFloat64(HDR_SIZE, true);
  if (size !== actualSize) throw new ShmError(`${segment} header says ${size} bytes but the segment is ${actualSize} (truncated or resized)`, 'ETRUNCATED', segment);
  const corrupt = (what: string): never => {
    throw new ShmError(
      `${segment} has a corrupt header: ${what}. It cannot be used safely: stop the instance that uses it and remove the segment (\`faasflow down --clean-shm\`, or rm ${SHM_PATH_PREFIX}${segment})`,
      'ECORRUPT',
      segment,
    );
  };
  const classCount = view.getUint32(HDR_CLASS_COUNT, true);
  if (classCount < 1 || classCount > MAX_CLASSES) corrupt(`${classCount} size classes (1..${MAX_CLASSES} allowed)`);
  const classes: ClassLayout[] = [];
  for (let i = 0; i < classCount; i++) {
    const o = CLASS_TABLE_OFFSET + i * CLASS_RECORD_BYTES;
    classes.push({
      index: i,
      arenaOffset: view.getFloat64(o + CLS_ARENA, true),
      size: view.getUint32(o + CLS_SIZE, true),
      count: view.getUint32(o + CLS_COUNT, true),
      firstPacket: view.getUint32(o + CLS_FIRST, true),
      bitmapWord: view.getUint32(o + CLS_BITMAP_WORD, true),
      bitmapWords: view.getUint32(o + CLS_BITMAP_WORDS, true),
      counterWord: view.getUint32(o + CLS_COUNTER_WORD, true),
    });
  }
  const layout: Layout = {
    size,
    classes,
    packetCount: view.getUint32(HDR_PACKET_COUNT, true),
    procOffset: view.getUint32(HDR_PROC_OFFSET, true),
    procSlots: view.getUint32(HDR_PROC_SLOTS, true),
    packetOffset: view.getUint32(HDR_PACKET_OFFSET, true),
    bitmapOffset: view.getUint32(HDR_BITMAP_OFFSET, true),
    fnStatsOffset: view.getUint32(HDR_FN_STATS_OFFSET, true),
    maxFunctions: view.getUint32(HDR_MAX_FUNCTIONS, true),
    procStatsOffset: view.getUint32(HDR_PROC_STATS_OFFSET, true),
    metaEnd: view.getUint32(HDR_META_END, true),
  };
  let expected: Layout | undefined;
  try {
    expected = computeLayout({ size, classes: classes.map((c) => ({ size: c.size, count: c.count })), maxFunctions: layout.maxFunctions, procSlots: layout.procSlots });
  } catch (err) {
    corrupt(`its parameters make no valid layout (${err instanceof Error ? err.message : String(err)})`);
  }
  for (const k of DERIVED) if (layout[k] !== expected![k]) corrupt(`${k} is ${String(layout[k])}, the layout of its own parameters has ${String(expected![k])}`);
  for (const c of classes) {
    const e = expected!.classes[c.index];
    for (const k of DERIVED_CLASS) if (c[k] !== e[k]) corrupt(`class ${c.size}: ${k} is ${c[k]}, the layout of its own parameters has ${e[k]}`);
  }
  const raw = new Uint8Array(view.buffer, view.byteOffset + NAME_OFFSET, NAME_BYTES);
  const end = raw.indexOf(0);
  const name = new TextDecoder().decode(raw.subarray(0, end < 0 ? NAME_BYTES : end));
  return { magic, version, size, creatorPid: view.getUint32(HDR_CREATOR, true), createdAt: view.getFloat64(HDR_CREATED_AT, true), name, layout };
}
