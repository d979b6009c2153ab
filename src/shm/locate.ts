// Where a segment is. The runtime segment is a file in /dev/shm. A domain segment is a sealed
// memfd (segment.ts): it has no path of its own and lives as long as some process holds it, and
// the supervisor that made it holds it for the segment's whole life. So a domain segment is found
// through that supervisor: the runtime segment's header names it (creator pid), and its
// /proc/<pid>/fd links read "/memfd:faasflow-<instance>@<domain> (deleted)". Opening such a link
// gives the very same file (same inode, same seals), which is how gateways and readers map it.
// Reads files and /proc only, so control/health.ts can use it without loading the native module.
import fs from 'node:fs';
import { HEADER_BYTES } from './constants.js';
import { readHeader } from './header.js';
import { DOMAIN_SEPARATOR, SEGMENT_PREFIX, SHM_DIR, segmentName, segmentPath } from '../common/paths.js';

/** A segment and how to open it. */
export interface SegmentEntry {
  /** The name users know it by: /faasflow-<instance> or /faasflow-<instance>@<domain>. */
  name: string;
  /** What to open: /dev/shm/faasflow-<instance>, or /proc/<pid>/fd/<n> of the process holding the memfd. */
  path: string;
  /** A sealed memfd (a domain segment), not a file in /dev/shm. */
  memfd: boolean;
}

/** What /proc/<pid>/fd and /proc/<pid>/maps call a memfd segment (followed there by " (deleted)"). */
export function memfdLabel(name: string): string {
  return `/memfd:${name.replace(/^\//, '')}`;
}

const DELETED = ' (deleted)';

/** A /proc link or maps path without the " (deleted)" the kernel adds for an unlinked file (every memfd). */
export function undeleted(path: string): string {
  return path.endsWith(DELETED) ? path.slice(0, -DELETED.length) : path;
}

/** The inode of the file at `path` (a /proc link: of the file it leads to), or undefined when it is gone. */
export function inodeOf(path: string): number | undefined {
  try {
    return fs.statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** The pid in the header of the segment file at `path`; undefined when it has no header that checks out. */
export function creatorOf(path: string, name: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, 'r');
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(HEADER_BYTES, size));
    fs.readSync(fd, head, 0, head.length, 0);
    return readHeader(new DataView(head.buffer, head.byteOffset, head.length), size, name).creatorPid;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The memfd segments process `pid` holds whose names start with `prefix` (e.g. "/faasflow-x@"), one entry per name. */
export function memfdsHeldBy(pid: number, prefix: string): SegmentEntry[] {
  const label = memfdLabel(prefix);
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const found = new Map<string, SegmentEntry>();
  for (const fd of fds) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (!link.startsWith(label)) continue;
    const name = `/${undeleted(link).slice('/memfd:'.length)}`;
    if (!found.has(name)) found.set(name, { name, path: `/proc/${pid}/fd/${fd}`, memfd: true });
  }
  return [...found.values()];
}

function fileEntries(): SegmentEntry[] {
  let names: string[];
  try {
    names = fs.readdirSync(SHM_DIR);
  } catch {
    return [];
  }
  return names.filter((e) => e.startsWith(SEGMENT_PREFIX)).map((e) => ({ name: `/${e}`, path: `${SHM_DIR}/${e}`, memfd: false }));
}

/** The domain segments of the instance whose runtime segment is `runtime`, found through its creator. */
function domainsOf(runtime: SegmentEntry): SegmentEntry[] {
  const creator = creatorOf(runtime.path, runtime.name);
  return creator === undefined ? [] : memfdsHeldBy(creator, `${runtime.name}${DOMAIN_SEPARATOR}`);
}

const byName = (a: SegmentEntry, b: SegmentEntry) => a.name.localeCompare(b.name) || Number(a.memfd) - Number(b.memfd);

/** Every faasflow segment: the files in /dev/shm and the domain segments of each live instance. */
export function segmentEntries(): SegmentEntry[] {
  const files = fileEntries();
  const memfds = files.filter((f) => !f.name.includes(DOMAIN_SEPARATOR)).flatMap(domainsOf);
  return [...files, ...memfds].sort(byName);
}

/** Every segment of `instance`: its runtime segment first, then its domain segments. */
export function instanceEntries(instance: string): SegmentEntry[] {
  const runtime = segmentName(instance);
  const file: SegmentEntry = { name: runtime, path: segmentPath(runtime), memfd: false };
  if (!fs.existsSync(file.path)) return [];
  // Domain segments left in /dev/shm as files (tools, tests, an older faasflow) count too.
  const prefix = `${runtime}${DOMAIN_SEPARATOR}`;
  const files = fileEntries().filter((f) => f.name.startsWith(prefix));
  return [file, ...[...files, ...domainsOf(file)].sort(byName)];
}

/**
 * Where segment `name` is: its /dev/shm file when there is one, else a live instance's memfd of
 * that name; else its would-be file, so that opening it fails with ENOENT naming /dev/shm.
 */
export function locate(name: string): SegmentEntry {
  const file: SegmentEntry = { name, path: segmentPath(name), memfd: false };
  if (!name.includes(DOMAIN_SEPARATOR) || fs.existsSync(file.path)) return file;
  const instance = name.slice(0, name.indexOf(DOMAIN_SEPARATOR));
  const runtime: SegmentEntry = { name: instance, path: segmentPath(instance), memfd: false };
  return domainsOf(runtime).find((e) => e.name === name) ?? file;
}
