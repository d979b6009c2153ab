// What /proc says about processes: identity checks before signalling a pid from a state file
// (pids get reused) and the members of a dead supervisor's session and its children's groups.
import fs from 'node:fs';

/**
 * Whether `pid` is a running process, not merely present: a zombie (killed, not yet reaped: pid 1
 * may reap orphans late) counts as dead, or a `kill -9`'d supervisor would look alive to
 * stale-instance checks. EPERM means it exists under another user.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = procStat(pid)?.state;
  if (state === undefined || state === 'X') return false;
  if (state !== 'Z') return true;
  // A zombie leader whose other threads are still exiting: they share its descriptors and
  // mappings (a listener still takes connections, a segment is still mapped) until they are gone.
  try {
    return fs.readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Alive and running one of faasflow's entry points (dist/runtime/<role>/main.js). */
export function isFaasflowProcess(pid: number, role?: 'supervisor' | 'gateway' | 'container' | 'queue'): boolean {
  return processAlive(pid) && new RegExp(`runtime/${role ?? '[a-z]+'}/main\\.js`).test(cmdline(pid));
}

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Start time in clock ticks since boot: with the pid, it names one process for good. */
  start: number;
}

/** /proc/<pid>/stat, or undefined once the process is gone. */
export function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state ppid pgrp session tty tpgid flags
    // minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), start: Number(f[19]) };
  } catch {
    return undefined;
  }
}

/** The kernel's start time of `pid` (0 when it is gone), recorded so a reused pid is told apart. */
export function startTime(pid: number): number {
  return procStat(pid)?.start ?? 0;
}

/** Every live process (zombies left out: they hold nothing and cannot be killed). */
export function allProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = procStat(Number(entry));
    if (s && s.state !== 'Z' && s.state !== 'X') out.push(s);
  }
  return out;
}

/** Pids whose process group is `pgid` (the supervisor is its group's leader). */
export function groupMembers(pgid: number): number[] {
  return allProcesses().filter((s) => s.pgrp === pgid).map((s) => s.pid);
}

/** Pids in the session `sid` (the supervisor leads its own session). */
export function sessionMembers(sid: number): number[] {
  return allProcesses().filter((s) => s.session === sid).map((s) => s.pid);
}

/**
 * Is `pid` still the process a state file recorded? With its recorded start time, exactly; from an
 * older state file without one, it must at least run a faasflow entry point.
 */
export function sameProcess(pid: number, recordedStart: number | undefined): boolean {
  if (!processAlive(pid)) return false;
  return recordedStart ? startTime(pid) === recordedStart : isFaasflowProcess(pid);
}

export function killQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
