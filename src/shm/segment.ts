// Creating, attaching, listing and removing segments. An instance has a runtime segment
// (/faasflow-<instance>: process table and the runtime's stats) and one segment per security
// domain (/faasflow-<instance>@<domain>: that domain's packets and its containers' stats).
import fs from 'node:fs';
import { native, type NativeMapping } from './binding.js';
import { ShmError, isShmError } from './errors.js';
import { HEADER_BYTES } from './constants.js';
import { readHeader, writeHeader, type HeaderInfo } from './header.js';
import { computeLayout, metadataSize, DEFAULT_CLASSES, type ClassSpec, type Layout } from './layout.js';
import type { SegmentMemory } from './memory.js';
import { PacketPool } from './pool.js';
import { SHM_DIR, checkName, explain, holdable, shmRoom, type ShmRoom } from './space.js';
import { DOMAIN_SEPARATOR, SEGMENT_PREFIX, segmentName } from '../common/paths.js';

export { SHM_DIR, SEGMENT_PREFIX, fmtBytes, pidAlive, shmRoom, type ShmRoom, type SegmentClaim } from './space.js';

// Segment names are the shared vocabulary's (every layer names segments); re-exported for shm's users.
export { DOMAIN_SEPARATOR, domainSegmentName, instanceOfSegment, segmentName } from '../common/paths.js';

export interface CreateOptions {
  name: string;
  /** Runtime segment (process table, stats; no packets) or domain segment (packets). Default: domain. */
  kind?: 'runtime' | 'domain';
  /** Bytes; without one a segment gets exactly what its tables (and packet arenas) need. */
  size?: number;
  /** A domain segment's budget: bytes of packets held at once (layout.ts, LayoutParams.budget). */
  budget?: number;
  classes?: ClassSpec[];
  maxFunctions?: number;
  fnWriters?: number;
  procSlots?: number;
  statsSlots?: number;
  instance?: string;
  domain?: string;
  domainIndex?: number;
  /** File mode (default 0600) and group (default: the creator's), for who may map it. */
  mode?: number;
  gid?: number;
}

/**
 * Which tables a new segment has. A runtime segment: the process table and the runtime's stats. A
 * domain segment: its containers' stats only. Without a kind (tests, tools): every table, as one
 * self-contained segment.
 */
function tablesOf(o: CreateOptions, kind: 'runtime' | 'domain') {
  const all = o.kind === undefined || kind === 'runtime';
  const procSlots = o.procSlots ?? (all ? 128 : 0);
  return { kind, maxFunctions: o.maxFunctions ?? (all ? 64 : 0), fnWriters: o.fnWriters ?? (all ? 1 : 0), procSlots, statsSlots: o.statsSlots ?? procSlots };
}

/** A mapped segment: the header, typed views over its metadata, and (with packets) the pool. */
export class Segment implements SegmentMemory {
  readonly name: string;
  /**
   * False after `Segment.open(name, false)`. Then every mutating method of the pool, the process
   * table and the stats records throws EACCES, and the views (`views`, `i32`, `f64`, `pool.view()`)
   * must not be written: the mapping is a private copy-on-write one, so a stray store never faults
   * and never reaches the segment, but the page it lands in stops showing the live data to this
   * process (see `storesSafe` for the one case where a store would fault).
   */
  readonly writable: boolean;
  /**
   * Whether a store through a view is harmless to this process: true for a read-write mapping and
   * for a read-only one mapped copy-on-write; false only when the kernel refused that private
   * mapping (strict overcommit) and the segment is mapped PROT_READ, where a store is a SIGSEGV.
   */
  readonly storesSafe: boolean;
  readonly header: HeaderInfo;
  readonly layout: Layout;
  readonly views: ArrayBuffer[];
  readonly viewBytes: number;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** The packet pool (a runtime segment has none: its pool has no classes and allocates nothing). */
  readonly pool: PacketPool;
  private readonly handle: number;
  private closed = false;

  private constructor(name: string, writable: boolean, m: NativeMapping, header: HeaderInfo) {
    this.name = name;
    this.writable = writable;
    this.storesSafe = m.storesSafe;
    this.handle = m.handle;
    this.views = m.views;
    this.viewBytes = native.viewBytes;
    this.header = header;
    this.layout = header.layout;
    this.i32 = new Int32Array(m.views[0], 0, this.layout.fnStatsOffset / 4);
    this.f64 = new Float64Array(m.views[0], this.layout.fnStatsOffset, (this.layout.metaEnd - this.layout.fnStatsOffset) / 8);
    this.pool = new PacketPool(this);
  }

  get kind(): 'runtime' | 'domain' {
    return this.layout.kind;
  }

  /** Creates a new segment (never reuses an existing one) and writes its header. */
  static create(o: CreateOptions): Segment {
    checkName(o.name);
    const kind = o.kind ?? 'domain';
    const tables = tablesOf(o, kind);
    const layout = computeLayout({ ...tables, size: o.size ?? (kind === 'runtime' ? metadataSize(tables) : undefined), budget: o.budget, classes: o.classes ?? (kind === 'runtime' ? [] : DEFAULT_CLASSES) }, o.name);
    const size = layout.size;
    // tmpfs accepts ftruncate past its free space and then kills the first process that touches a
    // page it cannot back (SIGBUS), so the space is checked here, before anything exists, against
    // the free space less what the other segments have yet to touch (shmRoom).
    const room = shmRoom();
    const claim = holdable(layout);
    if (claim > room.room) throw explain(new ShmError('no space', 'ENOSPC', o.name), o.name, claim, room);
    try {
      native.create(o.name, size, o.mode ?? 0o600, o.gid ?? -1);
    } catch (err) {
      throw explain(err, o.name, size);
    }
    let m: NativeMapping | undefined;
    try {
      m = native.map(o.name, true);
      const identity = { creatorPid: process.pid, name: o.instance ?? o.name.replace(/^\/(faasflow-)?/, ''), createdAt: Date.now(), domain: o.domain, domainIndex: o.domainIndex };
      writeHeader(new DataView(m.views[0], 0, HEADER_BYTES), layout, identity);
      const header = readHeader(new DataView(m.views[0], 0, HEADER_BYTES), m.size, o.name);
      const seg = new Segment(o.name, true, m, header);
      seg.pool.init();
      return seg;
    } catch (err) {
      if (m) native.unmap(m.handle);
      try {
        native.unlink(o.name);
      } catch {
        // already gone
      }
      throw explain(err, o.name, size);
    }
  }

  /**
   * Attaches to an existing segment; the header's magic, version, size and layout are checked.
   * `writable: false` (readers: `top`, `shm inspect`): see `writable` for what that allows.
   */
  static open(name: string, writable = true): Segment {
    checkName(name);
    let m: NativeMapping;
    try {
      m = native.map(name, writable);
    } catch (err) {
      if (isShmError(err, 'EINVAL')) throw new ShmError(`${SHM_DIR}${name} is empty: a truncated or half-created segment; remove it with \`faasflow down --clean-shm\``, 'ETRUNCATED', name);
      let size: number | undefined;
      if (isShmError(err, 'ENOMEM')) {
        try {
          size = native.stat(name).size;
        } catch {
          // gone meanwhile: the message goes without the size
        }
      }
      throw explain(err, name, size);
    }
    try {
      const header = readHeader(new DataView(m.views[0], 0, Math.min(HEADER_BYTES, m.size)), m.size, name);
      return new Segment(name, writable, m, header);
    } catch (err) {
      native.unmap(m.handle);
      throw err;
    }
  }

  static unlink(name: string): void {
    checkName(name);
    try {
      native.unlink(name);
    } catch (err) {
      throw explain(err, name);
    }
  }

  static exists(name: string): boolean {
    return fs.existsSync(`${SHM_DIR}${name}`);
  }

  /** Names (with the leading slash) of every faasflow segment in /dev/shm. */
  static list(): string[] {
    let entries: string[];
    try {
      entries = fs.readdirSync(SHM_DIR);
    } catch {
      return [];
    }
    return entries.filter((e) => e.startsWith(SEGMENT_PREFIX)).sort().map((e) => `/${e}`);
  }

  /** Every segment of `instance`: its runtime segment first, then its domain segments. */
  static ofInstance(instance: string): string[] {
    const runtime = segmentName(instance);
    const prefix = `${runtime}${DOMAIN_SEPARATOR}`;
    return Segment.list().filter((n) => n === runtime || n.startsWith(prefix)).sort((a, b) => (a === runtime ? -1 : b === runtime ? 1 : a.localeCompare(b)));
  }

  static stat(name: string) {
    checkName(name);
    try {
      return native.stat(name);
    } catch (err) {
      throw explain(err, name);
    }
  }

  static shmUsage() {
    return native.statfs(SHM_DIR);
  }

  /** /dev/shm's free space less the untouched bytes of existing segments: what create() checks. */
  static shmRoom(): ShmRoom {
    return shmRoom();
  }

  /** Bytes of [offset, offset+length) that are backed by memory right now. */
  resident(offset: number, length: number): number {
    return this.closed ? 0 : native.resident(this.handle, offset, length);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Unmaps; every view made from this segment becomes empty (detached), never dangling. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.detachViews();
    native.unmap(this.handle);
  }
}
