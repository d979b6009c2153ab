// Small readers over /proc. Every function returns null (or skips the pid) when a process is gone
// or unreadable: processes exit between readdir and open all the time, and that is not an error.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { SHM_DIR, segmentPath } from '../common/paths.js';

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

/** Collects, for each of `names`, the pids mapping it or holding it open and whether they write. */
class HolderScan {
  private readonly byPath: Map<string, string>;
  private readonly found: Map<string, Map<number, boolean>>;

  constructor(names: string[]) {
    this.byPath = new Map(names.map((n) => [segmentPath(n), n]));
    this.found = new Map(names.map((n) => [n, new Map<number, boolean>()]));
  }

  note(path: string, pid: number, writes: () => boolean): void {
    const name = this.byPath.get(path.endsWith(' (deleted)') ? path.slice(0, -10) : path);
    const pids = name === undefined ? undefined : this.found.get(name);
    if (pids !== undefined && !pids.get(pid)) pids.set(pid, writes());
  }

  /** Lines of /proc/<pid>/maps naming /dev/shm files: "addr perms offset dev inode path". */
  maps(pid: number, maps: string | null): void {
    if (maps === null || !maps.includes(SHM_DIR)) return;
    for (const line of maps.split('\n')) {
      const at = line.indexOf(SHM_DIR);
      if (at > 0) this.note(line.slice(at), pid, () => sharedWritable(line.split(' ')[1]));
    }
  }

  result(): Map<string, MappedBy[]> {
    return new Map([...this.found].map(([n, m]) => [n, [...m].map(([pid, writes]) => ({ pid, writes })).sort((a, b) => a.pid - b.pid)]));
  }
}

/**
 * Every process that maps (from /proc/<pid>/maps) or holds open (from /proc/<pid>/fd, with `fds`)
 * each of `names`: what `lsof /dev/shm/<name>` lists. One pass over /proc for all names. A
 * deleted-but-mapped segment shows in maps with " (deleted)" and still counts. Readers such as
 * `shm ls` and `top` map read-only; telling them from writers is what lets a segment whose
 * creator died count as stale while someone is merely looking at it.
 */
export function scanHolders(names: string[], o: { fds?: boolean; exclude?: number[] } = {}): Map<string, MappedBy[]> {
  const scan = new HolderScan(names);
  const exclude = new Set(o.exclude ?? []);
  for (const pid of allPids()) {
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
        scan.note(fs.readlinkSync(`/proc/${pid}/fd/${fd}`), pid, () => fdWrites(pid, fd));
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
export async function scanHoldersAsync(names: string[], o: { exclude?: number[] } = {}): Promise<Map<string, MappedBy[]>> {
  const scan = new HolderScan(names);
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
