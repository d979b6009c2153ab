// A cgroup per security domain, so a fork bomb or a runaway allocation in one handler is stopped by
// the kernel before it reaches the box or the other functions. cgroup v2 where its memory and pids
// controllers can be enabled for us, else the v1 memory and pids hierarchies; neither is available
// without root (then the sandbox launcher's rlimits are the fallback). Directories are named
// faasflow/<instance>/<domain>, so the next `up` or `down` can find and remove what a killed
// supervisor left.
import fs from 'node:fs';
import path from 'node:path';
import { killQuietly } from '../common/procs.js';

const ROOT = '/sys/fs/cgroup';

export interface DomainLimits {
  /** Hard memory cap for all of the domain's processes, bytes. */
  memoryBytes: number;
  /** Most tasks (processes and threads) in the domain. */
  pids: number;
}

export interface DomainCgroups {
  /** 'v2', 'v1', or 'none' when neither could be made (reason says why). */
  kind: 'v2' | 'v1' | 'none';
  /** Directories a container joins (one for v2; memory and pids for v1). */
  dirs: string[];
  reason?: string;
}

function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

/** The v2 controllers this machine lets us use below the root, or none. */
function v2Usable(): boolean {
  try {
    const ctl = fs.readFileSync(path.join(ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/);
    return ctl.includes('memory') && ctl.includes('pids');
  } catch {
    return false;
  }
}

function v2(instance: string, domain: string, l: DomainLimits): string[] {
  // Controllers are handed down level by level; a level with processes in it cannot hand them on,
  // so faasflow/ and faasflow/<instance>/ only ever hold directories.
  write(path.join(ROOT, 'cgroup.subtree_control'), '+memory +pids');
  const base = path.join(ROOT, 'faasflow');
  const inst = path.join(base, instance);
  fs.mkdirSync(inst, { recursive: true });
  write(path.join(base, 'cgroup.subtree_control'), '+memory +pids');
  write(path.join(inst, 'cgroup.subtree_control'), '+memory +pids');
  const dir = path.join(inst, domain);
  fs.mkdirSync(dir, { recursive: true });
  write(path.join(dir, 'memory.max'), String(l.memoryBytes));
  write(path.join(dir, 'memory.swap.max'), '0');
  write(path.join(dir, 'pids.max'), String(l.pids));
  return [dir];
}

function v1(instance: string, domain: string, l: DomainLimits): string[] {
  const mem = path.join(ROOT, 'memory', 'faasflow', instance, domain);
  const pids = path.join(ROOT, 'pids', 'faasflow', instance, domain);
  fs.mkdirSync(mem, { recursive: true });
  fs.mkdirSync(pids, { recursive: true });
  write(path.join(mem, 'memory.limit_in_bytes'), String(l.memoryBytes));
  write(path.join(pids, 'pids.max'), String(l.pids));
  return [mem, pids];
}

/** Makes (or updates) the domain's cgroups. Never throws: a failure is kind 'none' with the reason. */
export function domainCgroups(instance: string, domain: string, l: DomainLimits): DomainCgroups {
  if (process.getuid?.() !== 0) return { kind: 'none', dirs: [], reason: 'not root: cgroups need root here; RLIMIT_NPROC and RLIMIT_DATA bound each replica instead' };
  const errors: string[] = [];
  if (v2Usable()) {
    try {
      return { kind: 'v2', dirs: v2(instance, domain, l) };
    } catch (err) {
      errors.push(`cgroup v2: ${(err as Error).message}`);
    }
  }
  if (fs.existsSync(path.join(ROOT, 'memory', 'cgroup.procs')) && fs.existsSync(path.join(ROOT, 'pids', 'cgroup.procs'))) {
    try {
      return { kind: 'v1', dirs: v1(instance, domain, l) };
    } catch (err) {
      errors.push(`cgroup v1: ${(err as Error).message}`);
    }
  } else errors.push('no usable cgroup v1 memory and pids hierarchies');
  return { kind: 'none', dirs: [], reason: `${errors.join('; ')}; RLIMIT_NPROC and RLIMIT_DATA bound each replica instead` };
}

/** The directories of `c` that are not there (any process that is not the supervisor may remove an empty cgroup). */
export function missingCgroupDirs(c: DomainCgroups): string[] {
  return c.dirs.filter((d) => !fs.existsSync(path.join(d, 'cgroup.procs')));
}

/**
 * Removes an instance's cgroup directories. Anything still in them (a process a handler started
 * that left its container's group and the supervisor's session) is killed first and waited for
 * up to `waitMs`: only the instance's containers were ever put in them, so every member is its.
 * A cgroup that still has processes after that stays. Returns what was removed.
 */
export function removeInstanceCgroups(instance: string, waitMs = 1000): string[] {
  const removed: string[] = [];
  const bases = [path.join(ROOT, 'faasflow', instance), path.join(ROOT, 'memory', 'faasflow', instance), path.join(ROOT, 'pids', 'faasflow', instance)];
  const domainsOf = (base: string) => {
    try {
      return fs.readdirSync(base, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(base, d.name));
    } catch {
      return [];
    }
  };
  const all = bases.flatMap((b) => [...domainsOf(b), b]);
  const left = cgroupMembers(all);
  for (const pid of left) killQuietly(pid, 'SIGKILL');
  // A killed process leaves its cgroups only once it has exited: wait for that, briefly.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const end = Date.now() + waitMs; left.length && cgroupMembers(all).length && Date.now() < end; ) Atomics.wait(pause, 0, 0, 10);
  for (const base of bases) {
    for (const d of [...domainsOf(base), base]) {
      try {
        fs.rmdirSync(d);
        removed.push(d);
      } catch {
        // still has processes (or was never ours): left alone
      }
    }
  }
  // The shared parent goes too once no instance has anything in it.
  for (const parent of [path.join(ROOT, 'faasflow'), path.join(ROOT, 'memory', 'faasflow'), path.join(ROOT, 'pids', 'faasflow')]) {
    try {
      fs.rmdirSync(parent);
    } catch {
      // another instance's groups are in it, or it does not exist
    }
  }
  return removed;
}

/** Processes in a domain's cgroups now (what `down` must have stopped before removing them). */
export function cgroupMembers(dirs: string[]): number[] {
  const out = new Set<number>();
  for (const d of dirs) {
    try {
      for (const l of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) out.add(Number(l));
    } catch {
      // gone
    }
  }
  return [...out];
}
