// Small readers over /proc. Every function returns null (or skips the pid) when a process is gone
// or unreadable: processes exit between readdir and open all the time, and that is not an error.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { SEGMENT_PREFIX, SHM_DIR, segmentPath } from '../common/paths.js';
import { inodeOf, memfdLabel, undeleted, type SegmentEntry } from '../shm/locate.js';

let ticks = 0;
/** Clock ticks per second for /proc/<pid>/stat times (sysconf(_SC_CLK_TCK); 100 on every Linux we know). */
export function clockTicks(): number {
  if (ticks === 0) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export function readProc(pid: number | 'self', file: string): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return null;
  }
}

/**
 * readProc without blocking the event loop: the kernel's work (walking page tables for smaps,
 * which takes milliseconds for a Node process) happens on the libuv thread pool.
 */
export async function readProcAsync(pid: number | 'self', file: string): Promise<string | null> {
  try {
    return await fsp.readFile(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return null;
  }
}

/** utime + stime in seconds from the text of /proc/<pid>/stat. */
export function statCpuSeconds(stat: string): number {
  // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** utime + stime of `pid` in seconds, or null when it is gone. */
export function cpuSeconds(pid: number | 'self'): number | null {
  const stat = readProc(pid, 'stat');
  return stat === null ? null : statCpuSeconds(stat);
}

export interface ProcState {
  alive: boolean;
  cpuTime: number;
}

/**
 * Whether `pid` runs (a zombie does not) and its CPU seconds, from one read of /proc/<pid>/stat;
 * null when it is gone. What `top` reads of every process on every refresh.
 */
export function procState(pid: number, files?: ProcFiles): ProcState | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const stat = files ? files.read(pid, 'stat') : readProc(pid, 'stat');
  if (stat === null) return null;
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return { alive: state !== 'Z' && state !== 'X', cpuTime: statCpuSeconds(stat) };
}

/**
 * /proc/<pid>/stat and status kept open and read again from offset 0 on every call: ~10 µs a read
 * where opening, reading and closing the file costs ~150 µs, which is most of what a refresh of
 * `top` spends in /proc. The descriptor stands for the process, not its number: once the
 * process is gone, reads fail (ESRCH) even if the pid is used again, and the file is closed.
 */
export class ProcFiles {
  private readonly fds = new Map<number, { stat?: number; status?: number }>();
  private buf = Buffer.allocUnsafe(4096);

  read(pid: number, file: 'stat' | 'status'): string | null {
    let open = this.fds.get(pid);
    if (!open) {
      open = {};
      this.fds.set(pid, open);
    }
    let fd = open[file];
    if (fd === undefined) {
      try {
        fd = fs.openSync(`/proc/${pid}/${file}`, 'r');
      } catch {
        return null;
      }
      open[file] = fd;
    }
    try {
      // One read from offset 0 is one consistent rendering by the kernel: a file longer than the
      // buffer is read again whole into a larger one.
      let n = fs.readSync(fd, this.buf, 0, this.buf.length, 0);
      while (n === this.buf.length) {
        this.buf = Buffer.allocUnsafe(this.buf.length * 2);
        n = fs.readSync(fd, this.buf, 0, this.buf.length, 0);
      }
      return this.buf.toString('latin1', 0, n);
    } catch {
      fs.closeSync(fd);
      open[file] = undefined;
      return null;
    }
  }

  /** Closes the files of every process not in `pids`. */
  retain(pids: ReadonlySet<number>): void {
    for (const pid of [...this.fds.keys()]) if (!pids.has(pid)) this.forget(pid);
  }

  close(): void {
    for (const pid of [...this.fds.keys()]) this.forget(pid);
  }

  private forget(pid: number): void {
    for (const fd of Object.values(this.fds.get(pid) ?? {})) if (fd !== undefined) fs.closeSync(fd);
    this.fds.delete(pid);
  }
}

/** The command line of `pid`, spaces for NULs, or '' when unreadable. */
export function commandLine(pid: number): string {
  const raw = readProc(pid, 'cmdline');
  return raw === null ? '' : raw.replace(/\0+$/, '').replace(/\0/g, ' ');
}

export function allPids(): number[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(n));
  }
  return out;
}

/** A process that maps a segment or holds it open, and whether it can write to it. */
export interface MappedBy {
  pid: number;
  /**
   * A writable shared mapping (perms rw-s in maps) or an fd opened for writing (fdinfo flags). A
   * private writable mapping (rw-p) is not a writer: it is how a read-only attach maps a segment
   * (copy-on-write, so a stray store cannot fault), and nothing it stores reaches the segment.
   */
  writes: boolean;
}

/** maps perms "rwxs": writable and shared ("rw-s"); "rw-p" is a private copy-on-write mapping. */
const sharedWritable = (perms: string | undefined): boolean => perms !== undefined && perms[1] === 'w' && perms[3] === 's';

/** O_ACCMODE bits of the octal `flags:` line in /proc/<pid>/fdinfo/<fd>: 0 is O_RDONLY. */
function fdWrites(pid: number, fd: string): boolean {
  const info = readProc(pid, `fdinfo/${fd}`);
  const m = info === null ? null : /^flags:\s*([0-7]+)/m.exec(info);
  return m === null || (parseInt(m[1]!, 8) & 3) !== 0;
}

/**
 * A segment to find the holders of. A file is known by its path; a memfd by its name as the kernel
 * shows it ("/memfd:faasflow-x@d (deleted)") and its inode, since an old memfd of the same name (a
 * rebuilt domain's, still mapped by a replica on its way out) is another segment.
 */
export type HolderTarget = SegmentEntry & { ino?: number };

/** Collects, for each target, the pids mapping it or holding it open and whether they write. */
class HolderScan {
  private readonly byPath = new Map<string, { name: string; ino?: number }>();
  private readonly found: Map<string, Map<number, boolean>>;

  constructor(targets: HolderTarget[]) {
    for (const t of targets) this.byPath.set(t.memfd ? memfdLabel(t.name) : segmentPath(t.name), { name: t.name, ino: t.memfd ? (t.ino ?? inodeOf(t.path)) : undefined });
    this.found = new Map(targets.map((t) => [t.name, new Map<number, boolean>()]));
  }

  note(path: string, ino: () => number | undefined, pid: number, writes: () => boolean): void {
    const target = this.byPath.get(undeleted(path));
    if (target === undefined || (target.ino !== undefined && ino() !== target.ino)) return;
    const pids = this.found.get(target.name);
    if (pids !== undefined && !pids.get(pid)) pids.set(pid, writes());
  }

  /** Lines of /proc/<pid>/maps naming /dev/shm files or memfds: "addr perms offset dev inode path". */
  maps(pid: number, maps: string | null): void {
    if (maps === null || !(maps.includes(SHM_DIR) || maps.includes(MEMFD))) return;
    for (const line of maps.split('\n')) {
      const at = Math.max(line.indexOf(SHM_DIR), line.indexOf(MEMFD));
      if (at > 0) this.note(line.slice(at), () => Number(line.split(/\s+/)[4]), pid, () => sharedWritable(line.split(' ')[1]));
    }
  }

  /** An open descriptor of `pid` (its /proc link target). */
  fd(pid: number, fd: string, link: string): void {
    this.note(link, () => inodeOf(`/proc/${pid}/fd/${fd}`), pid, () => fdWrites(pid, fd));
  }

  result(): Map<string, MappedBy[]> {
    return new Map([...this.found].map(([n, m]) => [n, [...m].map(([pid, writes]) => ({ pid, writes })).sort((a, b) => a.pid - b.pid)]));
  }
}

/** Where a memfd segment's name starts in maps and in /proc/<pid>/fd links. */
const MEMFD = memfdLabel(`/${SEGMENT_PREFIX}`);

/**
 * Every process that maps (from /proc/<pid>/maps) or holds open (from /proc/<pid>/fd, with `fds`)
 * each target: what lsof lists for it (`lsof /dev/shm/<name>` for a file; for a memfd, the lines
 * naming "/memfd:<name> (deleted)" with its inode). One pass over /proc for all targets. A
 * deleted-but-mapped file shows in maps with " (deleted)" and still counts. Readers such as
 * `shm ls` and `top` map read-only; telling them from writers is what lets a segment whose
 * creator died count as stale while someone is merely looking at it. `pids`: look at these
 * processes only (default: every one).
 */
export function scanHolders(targets: HolderTarget[], o: { fds?: boolean; exclude?: number[]; pids?: number[] } = {}): Map<string, MappedBy[]> {
  const scan = new HolderScan(targets);
  const exclude = new Set(o.exclude ?? []);
  for (const pid of o.pids ?? allPids()) {
    if (exclude.has(pid)) continue;
    scan.maps(pid, readProc(pid, 'maps'));
    if (!o.fds) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        scan.fd(pid, fd, fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
  }
  return scan.result();
}

/**
 * scanHolders over the memory mappings only, reading /proc/<pid>/maps off the event loop a few
 * pids at a time: for a process that must keep serving while it looks (the gateway's /metrics).
 */
export async function scanHoldersAsync(targets: HolderTarget[], o: { exclude?: number[] } = {}): Promise<Map<string, MappedBy[]>> {
  const scan = new HolderScan(targets);
  const exclude = new Set(o.exclude ?? []);
  const pids = allPids().filter((p) => !exclude.has(p));
  let next = 0;
  const worker = async () => {
    while (next < pids.length) {
      const pid = pids[next++];
      scan.maps(pid, await readProcAsync(pid, 'maps'));
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return scan.result();
}
