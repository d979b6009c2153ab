// Creating, attaching, listing and removing segments, with errors a user can act on.
import fs from 'node:fs';
import { native, type NativeMapping } from './binding.js';
import { ShmError, isShmError } from './errors.js';
import { computeLayout, readHeader, writeHeader, DEFAULT_CLASSES, HEADER_BYTES, type ClassSpec, type HeaderInfo, type Layout } from './layout.js';
import { PacketPool } from './pool.js';

export const SHM_DIR = '/dev/shm';
/** Every faasflow segment is named /faasflow-<instance>, so `shm ls` and cleanup can find them. */
export const SEGMENT_PREFIX = 'faasflow-';

export function segmentName(instance: string): string {
  return `/${SEGMENT_PREFIX}${instance}`;
}

const GiB = 1024 ** 3;
export const fmtBytes = (n: number): string =>
  n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

/**
 * Whether `pid` is a running process. A zombie (killed, not yet reaped: pid 1 may reap orphans
 * late) counts as dead, or a `kill -9`'d supervisor would look alive to stale-instance checks.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export interface CreateOptions {
  name: string;
  size: number;
  classes?: ClassSpec[];
  maxFunctions?: number;
  procSlots?: number;
  instance?: string;
}

/** NAME_MAX of /dev/shm: glibc answers a longer name with a bare EINVAL. */
const NAME_MAX = 255;

/** POSIX shm names are one path component after the leading slash; say so before the kernel does. */
function checkName(name: string): void {
  if (typeof name !== 'string' || !/^\/[^/\0]+$/.test(name) || name === '/.' || name === '/..') {
    throw new ShmError(`segment name ${JSON.stringify(name)} is invalid: it must be "/" followed by a name without "/" (e.g. ${segmentName('default')})`, 'EINVAL', String(name));
  }
  if (Buffer.byteLength(name) - 1 > NAME_MAX) throw explain(new ShmError('name too long', 'ENAMETOOLONG', name), name);
}

/** A faasflow segment in /dev/shm and the part of its size tmpfs has not allocated yet. */
export interface SegmentClaim {
  name: string;
  size: number;
  /** Bytes tmpfs really holds for it (st_blocks × 512). */
  touched: number;
  /** size − touched: pages tmpfs must find when the segment's owner first writes them. */
  untouched: number;
}

/** /dev/shm's space as a new segment sees it. */
export interface ShmRoom {
  total: number;
  /** Free space for an unprivileged writer (statfs f_bavail). */
  available: number;
  /** Untouched bytes of every faasflow segment already in /dev/shm, added up. */
  claimed: number;
  segments: SegmentClaim[];
  /** available − claimed: what a new segment may take so that no segment can hit a full tmpfs. */
  room: number;
}

/**
 * /dev/shm's free space minus what existing faasflow segments may still claim. tmpfs allocates
 * lazily: a sparse segment costs nothing until its pages are first written, so statfs counts its
 * untouched pages as free. Two segments that each fit in that free space can still together
 * exceed it, and the process that writes last dies with SIGBUS. Counting every existing
 * segment's untouched bytes as spoken for closes that (other files in /dev/shm are not ours to
 * predict). Best effort, not a lock: two creations at the same instant can both pass.
 */
export function shmRoom(): ShmRoom {
  const fsu = native.statfs(SHM_DIR);
  const segments: SegmentClaim[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(SHM_DIR).filter((e) => e.startsWith(SEGMENT_PREFIX));
  } catch {
    // no /dev/shm listing: nothing to subtract
  }
  for (const e of entries) {
    try {
      const st = fs.statSync(`${SHM_DIR}/${e}`);
      if (!st.isFile()) continue;
      const touched = Math.min(st.size, st.blocks * 512);
      segments.push({ name: `/${e}`, size: st.size, touched, untouched: st.size - touched });
    } catch {
      // removed meanwhile
    }
  }
  const claimed = segments.reduce((a, c) => a + c.untouched, 0);
  return { total: fsu.total, available: fsu.available, claimed, segments, room: fsu.available - claimed };
}

function explain(err: unknown, name: string, size?: number, room?: ShmRoom): unknown {
  if (!isShmError(err)) return err;
  const file = `${SHM_DIR}${name}`;
  switch (err.code) {
    case 'EEXIST': {
      let owner = '';
      try {
        const seg = Segment.open(name, false);
        owner = ` (created by pid ${seg.header.creatorPid}, ${pidAlive(seg.header.creatorPid) ? 'still running' : 'no longer running'})`;
        seg.close();
      } catch {
        // unreadable: the plain message is still right
      }
      err.message = `segment ${file} already exists${owner}: another instance uses this name, or a crashed one left it behind. Run \`faasflow down --clean-shm\` or pick another --instance.`;
      break;
    }
    case 'ENOENT':
      err.message = `no segment ${file}: the instance is not running (start it with \`faasflow up\`).`;
      break;
    case 'EACCES':
    case 'EPERM':
      err.message = `permission denied on ${file}: it belongs to another user; run faasflow as that user or remove the file.`;
      break;
    case 'ENOSPC':
    case 'EFBIG':
      err.message = `${SHM_DIR} has no room for ${name}${size ? ` (${fmtBytes(size)})` : ''}: ${usageLine(room ?? shmRoom())}. Lower the segment size in faasflow.config.ts, remove stale segments (\`faasflow down --clean-shm\`), or enlarge /dev/shm (mount -o remount,size=... /dev/shm).`;
      break;
    case 'ENOMEM':
      // mmap: the address space or the commit limit of this process, not tmpfs's free space.
      err.message = `cannot map ${file}${size ? ` (${fmtBytes(size)})` : ''}: ${err.syscall ?? 'mmap'} says this process is out of memory for the mapping (address-space limit \`ulimit -v\`, vm.max_map_count, or strict overcommit vm.overcommit_memory=2); ${SHM_DIR}'s free space is not the problem. Raise the limit or lower the segment size in faasflow.config.ts.`;
      break;
    case 'ENAMETOOLONG':
      err.message = `segment name ${name.length > 40 ? `${name.slice(0, 40)}…` : name} is too long (${Buffer.byteLength(name) - 1} bytes, at most ${NAME_MAX}): use a shorter --instance name.`;
      break;
    default:
      break;
  }
  return err;
}

function usageLine(r: ShmRoom): string {
  const line = `${fmtBytes(r.total - r.available)} of ${fmtBytes(r.total)} used, ${fmtBytes(r.available)} free`;
  if (r.claimed <= 0) return line;
  const n = r.segments.filter((c) => c.untouched > 0).length;
  return `${line}, but ${fmtBytes(r.claimed)} of that is claimed by the untouched pages of ${n} existing faasflow segment${n === 1 ? '' : 's'} (tmpfs allocates them when they are first written), so ${fmtBytes(Math.max(0, r.room))} is really free`;
}

/** A mapped segment: the header, typed views over its metadata, and the packet pool. */
export class Segment {
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
  /** i32 view over the metadata (header, process table, packet table, bitmaps, counters). */
  readonly i32: Int32Array;
  /** f64 view over the stats records (per function, per process). */
  readonly f64: Float64Array;
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

  /** Creates a new segment (never reuses an existing one) and writes its header. */
  static create(o: CreateOptions): Segment {
    checkName(o.name);
    const layout = computeLayout({ size: o.size, classes: o.classes ?? DEFAULT_CLASSES, maxFunctions: o.maxFunctions ?? 64, procSlots: o.procSlots ?? 128 }, o.name);
    // tmpfs accepts ftruncate past its free space and then kills the first process that touches a
    // page it cannot back (SIGBUS), so the space is checked here, before anything exists, against
    // the free space less what the other segments have yet to touch (shmRoom).
    const room = shmRoom();
    if (o.size > room.room) {
      throw explain(new ShmError('no space', 'ENOSPC', o.name), o.name, o.size, room);
    }
    try {
      native.create(o.name, o.size);
    } catch (err) {
      throw explain(err, o.name, o.size);
    }
    let m: NativeMapping | undefined;
    try {
      m = native.map(o.name, true);
      writeHeader(new DataView(m.views[0], 0, HEADER_BYTES), layout, process.pid, o.instance ?? o.name.replace(/^\/(faasflow-)?/, ''), Date.now());
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
      throw explain(err, o.name, o.size);
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
    native.unmap(this.handle);
  }
}
