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

function explain(err: unknown, name: string, size?: number): unknown {
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
    case 'ENOMEM':
    case 'EFBIG':
      err.message = `${SHM_DIR} has no room for ${name}${size ? ` (${fmtBytes(size)})` : ''}: ${usageLine()}. Lower the segment size in faasflow.config.ts, remove stale segments (\`faasflow down --clean-shm\`), or enlarge /dev/shm (mount -o remount,size=... /dev/shm).`;
      break;
    case 'ENAMETOOLONG':
      err.message = `segment name ${name.length > 40 ? `${name.slice(0, 40)}…` : name} is too long (${Buffer.byteLength(name) - 1} bytes, at most ${NAME_MAX}): use a shorter --instance name.`;
      break;
    default:
      break;
  }
  return err;
}

function usageLine(): string {
  const fsu = native.statfs(SHM_DIR);
  return `${fmtBytes(fsu.total - fsu.available)} of ${fmtBytes(fsu.total)} used, ${fmtBytes(fsu.available)} free`;
}

/** A mapped segment: the header, typed views over its metadata, and the packet pool. */
export class Segment {
  readonly name: string;
  readonly writable: boolean;
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
    const layout = computeLayout({ size: o.size, classes: o.classes ?? DEFAULT_CLASSES, maxFunctions: o.maxFunctions ?? 64, procSlots: o.procSlots ?? 128 });
    // tmpfs accepts ftruncate past its free space and then kills the first process that touches a
    // page it cannot back (SIGBUS), so the space is checked here, before anything exists.
    const fsu = native.statfs(SHM_DIR);
    if (o.size > fsu.available) {
      throw explain(new ShmError('no space', 'ENOSPC', o.name), o.name, o.size);
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

  /** Attaches to an existing segment; the header's magic, version and size are checked. */
  static open(name: string, writable = true): Segment {
    checkName(name);
    let m: NativeMapping;
    try {
      m = native.map(name, writable);
    } catch (err) {
      if (isShmError(err, 'EINVAL')) throw new ShmError(`${SHM_DIR}${name} is empty: a truncated or half-created segment; remove it with \`faasflow down --clean-shm\``, 'ETRUNCATED', name);
      throw explain(err, name);
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
