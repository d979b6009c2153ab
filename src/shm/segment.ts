// Creating, attaching, listing and removing segments. An instance has a runtime segment
// (/faasflow-<instance>: process table and the runtime's stats), a file in /dev/shm, and one
// segment per security domain (/faasflow-<instance>@<domain>: that domain's packets and its
// containers' stats), a sealed memfd (memfd.ts; found through locate.ts).
import fs from 'node:fs';
import { native, type NativeMapping } from './binding.js';
import { ShmError, isShmError } from './errors.js';
import { HEADER_BYTES } from './constants.js';
import { readHeader, writeHeader, type HeaderInfo } from './header.js';
import { computeLayout, metadataSize, DEFAULT_CLASSES, type ClassSpec, type Layout } from './layout.js';
import { instanceEntries, locate, segmentEntries, type SegmentEntry } from './locate.js';
import { createMemfd, inheritMemfd, openMemfd } from './memfd.js';
import { createFile, mapFile, unlinkQuietly } from './segment-file.js';
import { memoryRoom, noMemoryError } from './memory-room.js';
import type { SegmentMemory } from './memory.js';
import { PacketPool } from './pool.js';
import { SHM_DIR, checkName, explain, holdable, shmRoom, type ShmRoom } from './space.js';

export { SHM_DIR, SEGMENT_PREFIX, fmtBytes, pidAlive, shmRoom, type ShmRoom, type SegmentClaim } from './space.js';
export { memoryRoom, type MemoryRoom } from './memory-room.js';

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
  /**
   * A /dev/shm file's mode (default 0600) and group (default: the creator's), for who may map it.
   * A domain segment (a memfd) has no path anyone could open: whoever is given its descriptor may.
   */
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
  /** A sealed memfd (a domain segment, made with kind 'domain'), not a file in /dev/shm. */
  readonly memfd: boolean;
  /** What it was mapped from: its /dev/shm file, the /proc link of its memfd, or "fd <n>". */
  readonly path: string;
  /** The file's inode: a segment made anew under the same name (a rebuilt domain) is another one. */
  readonly ino: number;
  /**
   * The memfd's descriptor in this process, kept open while the segment is (its creator's, so
   * that others can open it through /proc/<pid>/fd/<fd>); -1 for none.
   */
  readonly fd: number;
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

  private constructor(name: string, writable: boolean, m: NativeMapping, header: HeaderInfo, at: { path: string; memfd: boolean; fd?: number }) {
    this.name = name;
    this.writable = writable;
    this.storesSafe = m.storesSafe;
    this.memfd = at.memfd;
    this.path = at.path;
    this.fd = at.fd ?? -1;
    this.ino = m.ino;
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

  /**
   * Creates a new segment (never reuses an existing one) and writes its header. kind 'domain': a
   * sealed memfd, whose descriptor this segment keeps. Otherwise a /dev/shm file (O_EXCL): the
   * runtime segment allocated in full, a self-contained one (no kind: tools, tests) sparse.
   */
  static create(o: CreateOptions): Segment {
    checkName(o.name);
    const kind = o.kind ?? 'domain';
    const tables = tablesOf(o, kind);
    const layout = computeLayout({ ...tables, size: o.size ?? (kind === 'runtime' ? metadataSize(tables) : undefined), budget: o.budget, classes: o.classes ?? (kind === 'runtime' ? [] : DEFAULT_CLASSES) }, o.name);
    const size = layout.size;
    // What it can come to hold (a domain layout: its tables and budget, not the classes it
    // reserves), checked before anything exists against the memory a memfd takes its pages from,
    // or /dev/shm's free space (createFile).
    const holds = holdable(layout);
    const memfd = o.kind === 'domain';
    if (memfd) {
      const room = memoryRoom();
      if (holds > room.room) throw noMemoryError(o.name, holds, room);
    }
    let m: NativeMapping | undefined;
    let fd = -1;
    try {
      if (memfd) ({ fd, m } = createMemfd(o.name, size));
      else m = createFile(o.name, size, holds, o.mode ?? 0o600, o.gid ?? -1, o.kind === 'runtime');
      const identity = { creatorPid: process.pid, name: o.instance ?? o.name.replace(/^\/(faasflow-)?/, ''), createdAt: Date.now(), domain: o.domain, domainIndex: o.domainIndex };
      writeHeader(new DataView(m.views[0], 0, HEADER_BYTES), layout, identity);
      const header = readHeader(new DataView(m.views[0], 0, HEADER_BYTES), m.size, o.name);
      const seg = new Segment(o.name, true, m, header, memfd ? { path: `/proc/${process.pid}/fd/${fd}`, memfd, fd } : { path: `${SHM_DIR}${o.name}`, memfd });
      seg.pool.init();
      return seg;
    } catch (err) {
      if (m) native.unmap(m.handle);
      if (fd >= 0) fs.closeSync(fd);
      else if (m) unlinkQuietly(o.name);
      throw err;
    }
  }

  /**
   * Attaches to an existing segment, by name or by an entry of list()/ofInstance(); the header's
   * magic, version, size and layout are checked. `writable: false` (readers: `top`, `shm
   * inspect`): see `writable` for what that allows.
   */
  static open(source: string | SegmentEntry, writable = true): Segment {
    const e = typeof source === 'string' ? (checkName(source), locate(source)) : source;
    const m = e.memfd ? openMemfd(e, writable) : mapFile(e.name, writable);
    return Segment.attach(e.name, writable, m, e);
  }

  /**
   * A container's domain segment, from the memfd descriptor `fd` its parent passed it: mapped
   * read-write, the descriptor kept (close-on-exec: see inheritMemfd) and closed by close().
   */
  static inherit(name: string, fd: number): Segment {
    checkName(name);
    return Segment.attach(name, true, inheritMemfd(name, fd), { path: `/proc/${process.pid}/fd/${fd}`, memfd: true, fd });
  }

  private static attach(name: string, writable: boolean, m: NativeMapping, at: { path: string; memfd: boolean; fd?: number }): Segment {
    try {
      const header = readHeader(new DataView(m.views[0], 0, Math.min(HEADER_BYTES, m.size)), m.size, name);
      return new Segment(name, writable, m, header, { path: at.path, memfd: at.memfd, fd: at.fd });
    } catch (err) {
      native.unmap(m.handle);
      throw err;
    }
  }

  /** Removes a segment file from /dev/shm. A memfd has none: it goes with the last process holding it. */
  static unlink(name: string): void {
    checkName(name);
    try {
      native.unlink(name);
    } catch (err) {
      throw explain(err, name);
    }
  }

  /** Whether segment `name` exists: its file in /dev/shm, or a live instance's memfd. */
  static exists(name: string): boolean {
    return fs.existsSync(`${SHM_DIR}${name}`) || locate(name).memfd;
  }

  /** Every faasflow segment: the files in /dev/shm and each live instance's domain segments, by name. */
  static list(): SegmentEntry[] {
    return segmentEntries();
  }

  /** Every segment of `instance`: its runtime segment first, then its domain segments. */
  static ofInstance(instance: string): SegmentEntry[] {
    return instanceEntries(instance);
  }

  /** Size, bytes backed by memory (touched), mode, owner and mtime of a segment, by name or entry. */
  static stat(source: string | SegmentEntry): { size: number; touched: number; mode: number; uid: number; mtimeMs: number } {
    const e = typeof source === 'string' ? (checkName(source), locate(source)) : source;
    try {
      if (!e.memfd) return native.stat(e.name);
      const st = fs.statSync(e.path);
      return { size: st.size, touched: st.blocks * 512, mode: st.mode & 0o7777, uid: st.uid, mtimeMs: st.mtimeMs };
    } catch (err) {
      if (!isShmError(err)) throw new ShmError(`segment ${e.name} is gone (${e.path}): its instance stopped, or rebuilt that domain meanwhile.`, 'ENOENT', e.name);
      throw explain(err, e.name);
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
    if (this.fd >= 0) fs.closeSync(this.fd);
  }
}
