// /dev/shm as a new segment sees it (free space less what existing segments may still claim), and
// the errors of creating and attaching turned into messages a user can act on.
import fs from 'node:fs';
import { native } from './binding.js';
import { ShmError, isShmError } from './errors.js';
import { readHeader } from './header.js';
import { HEADER_BYTES } from './constants.js';
import type { Layout } from './layout.js';

// Names and the byte format are the shared vocabulary's; re-exported for shm's users.
import { DOMAIN_SEPARATOR, SEGMENT_PREFIX, SHM_DIR } from '../common/paths.js';
import { fmtBytes } from '../common/units.js';
export { SEGMENT_PREFIX, SHM_DIR, fmtBytes };

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

/** NAME_MAX of /dev/shm: glibc answers a longer name with a bare EINVAL. */
const NAME_MAX = 255;

/** POSIX shm names are one path component after the leading slash; say so before the kernel does. */
export function checkName(name: string): void {
  if (typeof name !== 'string' || !/^\/[^/\0]+$/.test(name) || name === '/.' || name === '/..') {
    throw new ShmError(`segment name ${JSON.stringify(name)} is invalid: it must be "/" followed by a name without "/" (e.g. ${'/faasflow-default'})`, 'EINVAL', String(name));
  }
  if (Buffer.byteLength(name) - 1 > NAME_MAX) throw explain(new ShmError('name too long', 'ENAMETOOLONG', name), name);
}

/** A faasflow segment (in /dev/shm, or a memfd) and the part of what it can hold that memory does not back yet. */
export interface SegmentClaim {
  name: string;
  size: number;
  /**
   * Bytes it can come to hold: a domain segment its tables and its budget (its classes reserve
   * several times that, untouched), any other its size. The size when its header cannot be read.
   */
  holds: number;
  /** Bytes it really holds (st_blocks × 512). */
  touched: number;
  /** holds − touched (at least 0): pages memory must find when the segment's users first write them. */
  untouched: number;
}

const PAGE = 4096;

/**
 * What a segment of this layout can come to hold in tmpfs: a domain segment's tables and its
 * budget (each class reserves packets for all of the budget, but the budget is what can be held at
 * once), a runtime segment's size.
 */
export function holdable(l: Layout): number {
  if (l.kind !== 'domain') return l.size;
  return Math.min(l.size, Math.ceil(l.metaEnd / PAGE) * PAGE + l.budget);
}

/**
 * What the segment file `file` (st_size `size`: a /dev/shm file, or a memfd's /proc link) can hold,
 * from its header; its size when the header cannot be read (another user's, damaged).
 */
export function holdsOf(file: string, name: string, size: number): number {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(HEADER_BYTES);
    if (fs.readSync(fd, head, 0, HEADER_BYTES, 0) < HEADER_BYTES) return size;
    return holdable(readHeader(new DataView(head.buffer, head.byteOffset, HEADER_BYTES), size, name).layout);
  } catch {
    return size;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
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
 * exceed it, and the process that writes last dies with SIGBUS. Counting what every existing
 * segment can still come to hold as spoken for closes that (other files in /dev/shm are not ours
 * to predict). Best effort, not a lock: two creations at the same instant can both pass.
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
      const holds = holdsOf(`${SHM_DIR}/${e}`, `/${e}`, st.size);
      segments.push({ name: `/${e}`, size: st.size, holds, touched, untouched: Math.max(0, holds - touched) });
    } catch {
      // removed meanwhile
    }
  }
  const claimed = segments.reduce((a, c) => a + c.untouched, 0);
  return { total: fsu.total, available: fsu.available, claimed, segments, room: fsu.available - claimed };
}

export function explain(err: unknown, name: string, size?: number, room?: ShmRoom): unknown {
  if (!isShmError(err)) return err;
  const file = `${SHM_DIR}${name}`;
  switch (err.code) {
    case 'EEXIST': {
      let owner = '';
      try {
        const m = native.map(name, false);
        try {
          const creator = readHeader(new DataView(m.views[0], 0, Math.min(HEADER_BYTES, m.size)), m.size, name).creatorPid;
          owner = ` (created by pid ${creator}, ${pidAlive(creator) ? 'still running' : 'no longer running'})`;
        } finally {
          native.unmap(m.handle);
        }
      } catch {
        // unreadable: the plain message is still right
      }
      err.message = `segment ${file} already exists${owner}: another instance uses this name, or a crashed one left it behind. Run \`faasflow down --clean-shm\` or pick another --instance.`;
      break;
    }
    case 'ENOENT':
      // A domain segment is a memfd, found through its instance's supervisor: no file to name.
      err.message = name.includes(DOMAIN_SEPARATOR) ? `no segment ${name}: no running instance holds it (a domain segment lives as long as its instance; start it with \`faasflow up\`).` : `no segment ${file}: the instance is not running (start it with \`faasflow up\`).`;
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

