// The segment header: written once by the creator, checked by everyone who attaches. Checking is
// strict because a domain segment is writable by containers, whose code is not trusted: a header
// that passes can never point anyone outside its tables or the segment.
import { ShmError } from './errors.js';
import {
  CLASS_RECORD_BYTES, CLASS_TABLE_OFFSET, CLS_ARENA, CLS_BITMAP_WORD, CLS_BITMAP_WORDS, CLS_COUNT, CLS_COUNTER_WORD, CLS_FIRST, CLS_SIZE, DOMAIN_BYTES,
  DOMAIN_OFFSET, HDR_BITMAP_OFFSET, HDR_BUDGET, HDR_CLASS_COUNT, HDR_CREATED_AT, HDR_CREATOR, HDR_DOMAIN_INDEX, HDR_FN_STATS_OFFSET, HDR_FN_WRITERS, HDR_KIND,
  HDR_MAGIC, HDR_MAX_FUNCTIONS, HDR_META_END, HDR_PACKET_COUNT, HDR_PACKET_OFFSET, HDR_PROC_OFFSET, HDR_PROC_SLOTS, HDR_PROC_STATS_OFFSET, HDR_SIZE,
  HDR_STATS_SLOTS, HDR_VERSION, HEADER_BYTES, KIND_DOMAIN, KIND_RUNTIME, LAYOUT_VERSION, MAGIC, MAX_CLASSES, NAME_BYTES, NAME_OFFSET,
} from './constants.js';
import { computeLayout, type ClassLayout, type Layout } from './layout.js';

/** Where POSIX shm names live as files (segment.ts's SHM_DIR, repeated to keep this module free of segment.ts). */
const SHM_PATH_PREFIX = '/dev/shm';

export interface HeaderInfo {
  magic: number;
  version: number;
  size: number;
  creatorPid: number;
  createdAt: number;
  /** The instance the segment belongs to. */
  name: string;
  /** A domain segment's domain name and index ('' and -1 for the runtime segment). */
  domain: string;
  domainIndex: number;
  layout: Layout;
}

export interface HeaderIdentity {
  creatorPid: number;
  name: string;
  createdAt: number;
  domain?: string;
  domainIndex?: number;
}

function writeString(view: DataView, at: number, bytes: number, text: string): void {
  new Uint8Array(view.buffer, view.byteOffset + at, bytes).set(new TextEncoder().encode(text).subarray(0, bytes));
}

function readString(view: DataView, at: number, bytes: number): string {
  const raw = new Uint8Array(view.buffer, view.byteOffset + at, bytes);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(raw.subarray(0, end < 0 ? bytes : end));
}

/** Writes the header of a freshly created (zero-filled) segment. */
export function writeHeader(view: DataView, l: Layout, who: HeaderIdentity): void {
  view.setUint32(HDR_VERSION, LAYOUT_VERSION, true);
  view.setFloat64(HDR_SIZE, l.size, true);
  view.setFloat64(HDR_BUDGET, l.budget, true);
  view.setUint32(HDR_CREATOR, who.creatorPid, true);
  view.setFloat64(HDR_CREATED_AT, who.createdAt, true);
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
  view.setUint32(HDR_KIND, l.kind === 'runtime' ? KIND_RUNTIME : KIND_DOMAIN, true);
  view.setUint32(HDR_FN_WRITERS, l.fnWriters, true);
  view.setUint32(HDR_STATS_SLOTS, l.statsSlots, true);
  view.setInt32(HDR_DOMAIN_INDEX, who.domainIndex ?? -1, true);
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
  writeString(view, NAME_OFFSET, NAME_BYTES, who.name);
  writeString(view, DOMAIN_OFFSET, DOMAIN_BYTES, who.domain ?? '');
  // Magic last: a reader that sees it knows the rest of the header is complete.
  view.setUint32(HDR_MAGIC, MAGIC, true);
}

/** The layout fields a header stores besides the parameters it is computed from. */
const DERIVED: ReadonlyArray<keyof Layout> = ['budget', 'packetCount', 'procOffset', 'packetOffset', 'bitmapOffset', 'fnStatsOffset', 'procStatsOffset', 'metaEnd'];
const DERIVED_CLASS: ReadonlyArray<keyof ClassLayout> = ['firstPacket', 'arenaOffset', 'bitmapWord', 'bitmapWords', 'counterWord'];

/**
 * Reads and checks a header; `actualSize` is the mapped size, to catch a truncated segment. The
 * layout is recomputed from the header's own parameters (kind, size, budget, classes and their
 * counts, function records, slots) and every stored offset must match it exactly.
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
  const kindWord = view.getUint32(HDR_KIND, true);
  if (kindWord !== KIND_RUNTIME && kindWord !== KIND_DOMAIN) corrupt(`kind ${kindWord} (${KIND_RUNTIME} runtime or ${KIND_DOMAIN} domain)`);
  const classCount = view.getUint32(HDR_CLASS_COUNT, true);
  if (classCount > MAX_CLASSES) corrupt(`${classCount} size classes (at most ${MAX_CLASSES})`);
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
  const kind = kindWord === KIND_RUNTIME ? 'runtime' : 'domain';
  const budget = view.getFloat64(HDR_BUDGET, true);
  const layout: Layout = {
    kind,
    size,
    budget,
    classes,
    packetCount: view.getUint32(HDR_PACKET_COUNT, true),
    procOffset: view.getUint32(HDR_PROC_OFFSET, true),
    procSlots: view.getUint32(HDR_PROC_SLOTS, true),
    packetOffset: view.getUint32(HDR_PACKET_OFFSET, true),
    bitmapOffset: view.getUint32(HDR_BITMAP_OFFSET, true),
    fnStatsOffset: view.getUint32(HDR_FN_STATS_OFFSET, true),
    maxFunctions: view.getUint32(HDR_MAX_FUNCTIONS, true),
    fnWriters: view.getUint32(HDR_FN_WRITERS, true),
    statsSlots: view.getUint32(HDR_STATS_SLOTS, true),
    procStatsOffset: view.getUint32(HDR_PROC_STATS_OFFSET, true),
    metaEnd: view.getUint32(HDR_META_END, true),
    // Not stored: taken from the layout its parameters give, below.
    poolWord: -1,
  };
  let expected: Layout | undefined;
  try {
    expected = computeLayout({
      kind, size, classes: classes.map((c) => ({ size: c.size, count: c.count })), ...(kind === 'domain' ? { budget } : {}),
      maxFunctions: layout.maxFunctions, fnWriters: layout.fnWriters, procSlots: layout.procSlots, statsSlots: layout.statsSlots,
    });
  } catch (err) {
    corrupt(`its parameters make no valid layout (${err instanceof Error ? err.message : String(err)})`);
  }
  layout.poolWord = expected!.poolWord;
  for (const k of DERIVED) if (layout[k] !== expected![k]) corrupt(`${k} is ${String(layout[k])}, the layout of its own parameters has ${String(expected![k])}`);
  for (const c of classes) {
    const e = expected!.classes[c.index];
    for (const k of DERIVED_CLASS) if (c[k] !== e[k]) corrupt(`class ${c.size}: ${k} is ${c[k]}, the layout of its own parameters has ${e[k]}`);
  }
  return {
    magic, version, size,
    creatorPid: view.getUint32(HDR_CREATOR, true),
    createdAt: view.getFloat64(HDR_CREATED_AT, true),
    name: readString(view, NAME_OFFSET, NAME_BYTES),
    domain: readString(view, DOMAIN_OFFSET, DOMAIN_BYTES),
    domainIndex: view.getInt32(HDR_DOMAIN_INDEX, true),
    layout,
  };
}
