// What /proc says about processes: identity checks before signalling a pid from a state file
// (pids get reused) and the members of a dead supervisor's process group.
import fs from 'node:fs';
import { pidAlive } from '../shm/index.js';

/** Running, not merely present: a zombie counts as dead (see pidAlive). */
export const processAlive = pidAlive;

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Alive and running one of faasflow's entry points (dist/runtime/<role>/main.js). */
export function isFaasflowProcess(pid: number, role?: 'supervisor' | 'gateway' | 'container'): boolean {
  return processAlive(pid) && new RegExp(`runtime/${role ?? '[a-z]+'}/main\\.js`).test(cmdline(pid));
}

/** Pids whose process group is `pgid` (the supervisor is its group's leader). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command name: state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

export function killQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
