// Mapping a domain segment, a sealed memfd, from a descriptor: the supervisor's own (it made it),
// one a container inherited, or one opened through /proc/<pid>/fd/<n> of the process holding it
// (gateways, readers). Before mapping, the descriptor is checked to be that segment and sealed: a
// descriptor number can be reused between being named and being opened, and a trusted process
// must never map a file whose size someone else could change (a shrink under a mapping is a
// SIGBUS in whoever touches the lost pages).
import fs from 'node:fs';
import { native, type NativeMapping } from './binding.js';
import { ShmError } from './errors.js';
import { memfdLabel, undeleted, type SegmentEntry } from './locate.js';
import { explain } from './space.js';

/** F_SEAL_SHRINK | F_SEAL_GROW (fcntl.h): the size can change neither way. */
const SIZE_SEALS = 0x0002 | 0x0004;

/** memfd_create's name limit: NAME_MAX less "memfd:". */
export const MEMFD_NAME_MAX = 249;

/** Makes the memfd of segment `name` (sealed at `size` bytes) and maps it; the descriptor is the caller's to keep. */
export function createMemfd(name: string, size: number): { fd: number; m: NativeMapping } {
  if (Buffer.byteLength(name) - 1 > MEMFD_NAME_MAX) throw new ShmError(`segment name ${name.slice(0, 40)}… is too long for a memfd (${Buffer.byteLength(name) - 1} bytes, at most ${MEMFD_NAME_MAX}): use a shorter --instance or domain name.`, 'ENAMETOOLONG', name);
  let fd: number;
  try {
    fd = native.memfdCreate(name.slice(1), size);
  } catch (err) {
    throw explain(err, name, size);
  }
  try {
    return { fd, m: native.mapFd(fd, true, name) };
  } catch (err) {
    fs.closeSync(fd);
    throw explain(err, name, size);
  }
}

/**
 * Maps descriptor `fd` as segment `name` once it is shown to be that segment's memfd with its size
 * sealed. The descriptor stays open (the caller's).
 */
export function mapMemfd(name: string, fd: number, writable: boolean): NativeMapping {
  let link: string;
  try {
    link = undeleted(fs.readlinkSync(`/proc/self/fd/${fd}`));
  } catch {
    throw new ShmError(`descriptor ${fd} for segment ${name} is not open in this process: the process that started it must pass the segment's memfd there`, 'ENOENT', name);
  }
  if (link !== memfdLabel(name)) throw new ShmError(`descriptor ${fd} is ${link}, not segment ${name} (${memfdLabel(name)}): it was replaced meanwhile (a domain rebuilt, the instance restarted); look it up again`, 'ESTALE', name);
  if ((native.seals(fd) & SIZE_SEALS) !== SIZE_SEALS) throw new ShmError(`segment ${name} is a memfd whose size is not sealed: refusing to map it, since whoever holds it could shrink it under this process (SIGBUS). Domain segments are made sealed by the supervisor; this one was not made by faasflow.`, 'EINVAL', name);
  try {
    return native.mapFd(fd, writable, name);
  } catch (err) {
    throw explain(err, name);
  }
}

/**
 * Maps the memfd descriptor `fd` a parent passed (a container's domain segment) read-write and
 * marks it close-on-exec: it stays this process's (its size is sealed, so holding it gives no
 * power the mapping does not), but no program a handler runs gets it, nor keeps the segment's
 * memory alive after the instance is gone.
 */
export function inheritMemfd(name: string, fd: number): NativeMapping {
  const m = mapMemfd(name, fd, true);
  native.cloexec(fd);
  return m;
}

/** Opens a memfd segment through the /proc link its entry names and maps it; the link's descriptor is closed again. */
export function openMemfd(e: SegmentEntry, writable: boolean): NativeMapping {
  let fd: number;
  try {
    fd = fs.openSync(e.path, writable ? 'r+' : 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new ShmError(`permission denied opening segment ${e.name} through ${e.path}: its instance runs as another user; run faasflow as that user (or root).`, 'EACCES', e.name);
    throw new ShmError(`segment ${e.name} is gone (${e.path}: ${code ?? String(err)}): its instance stopped, or rebuilt that domain meanwhile.`, 'ENOENT', e.name);
  }
  try {
    return mapMemfd(e.name, fd, writable);
  } finally {
    fs.closeSync(fd);
  }
}
