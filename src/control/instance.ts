// Is an instance running, gone, or stale (its supervisor died and left processes, a segment or
// control files behind)? And cleaning up after a stale one, reporting exactly what was removed.
import fs from 'node:fs';
import { Segment, segmentName } from '../shm/index.js';
import type { InstancePaths } from './paths.js';
import type { InstanceStatus } from './protocol.js';
import { readState } from './state.js';
import { listSegments } from '../observe/segments.js';
import { groupMembers, isFaasflowProcess, killQuietly, processAlive } from './procs.js';

export type InstanceHealth =
  | { kind: 'absent' }
  | { kind: 'running'; state: InstanceStatus }
  | { kind: 'stale'; state?: InstanceStatus; reason: string }
  /** The segment exists and its creator lives, but no state file here points to it. */
  | { kind: 'foreign'; creatorPid: number };

export interface CleanReport {
  killed: number[];
  segments: string[];
  files: string[];
}

function segmentCreator(name: string): number | undefined {
  try {
    const seg = Segment.open(name, false);
    const pid = seg.header.creatorPid;
    seg.close();
    return pid;
  } catch {
    return undefined;
  }
}

export function inspectInstance(p: InstancePaths): InstanceHealth {
  const state = readState(p.state);
  const seg = segmentName(p.instance);
  if (state) {
    if (isFaasflowProcess(state.supervisorPid, 'supervisor')) return { kind: 'running', state };
    return { kind: 'stale', state, reason: `supervisor pid ${state.supervisorPid} is no longer running` };
  }
  if (Segment.exists(seg)) {
    const creator = segmentCreator(seg);
    if (creator !== undefined && processAlive(creator)) return { kind: 'foreign', creatorPid: creator };
    return { kind: 'stale', reason: `segment /dev/shm${seg} was left behind by ${creator ? `pid ${creator}, which is gone` : 'a crashed process (unreadable header)'}` };
  }
  if (fs.existsSync(p.socket)) return { kind: 'stale', reason: `control socket ${p.socket} has no supervisor` };
  return { kind: 'absent' };
}

/** Stops what a dead supervisor left running, unlinks its segment, removes its control files. */
export function cleanStale(p: InstancePaths, state?: InstanceStatus): CleanReport {
  const report: CleanReport = { killed: [], segments: [], files: [] };
  if (state) {
    const pids = new Set([...state.children.map((c) => c.pid), ...groupMembers(state.supervisorPid)]);
    for (const pid of pids) {
      if (pid !== process.pid && isFaasflowProcess(pid) && killQuietly(pid, 'SIGKILL')) report.killed.push(pid);
    }
    // Each child led its own process group; what its handler started is still in it. A leader
    // that is alive but not ours means the pid was reused: that group is someone else's.
    for (const c of state.children) {
      if (c.pid <= 0 || (processAlive(c.pid) && !isFaasflowProcess(c.pid))) continue;
      for (const pid of groupMembers(c.pid)) if (pid !== process.pid && !report.killed.includes(pid) && killQuietly(pid, 'SIGKILL')) report.killed.push(pid);
    }
  }
  const seg = segmentName(p.instance);
  if (Segment.exists(seg)) {
    const creator = segmentCreator(seg);
    if (creator === undefined || !processAlive(creator)) {
      Segment.unlink(seg);
      report.segments.push(seg);
    }
  }
  for (const f of [p.socket, p.state, p.config]) {
    if (fs.existsSync(f)) {
      fs.rmSync(f, { force: true });
      report.files.push(f);
    }
  }
  return report;
}

/**
 * Every faasflow segment `shm ls` calls stale: its creator is dead and no live process maps it
 * writable (an orphan still working in it, or a half-created segment being set up, is not stale;
 * a read-only watcher such as `top` does not keep one alive). One pass over /proc for all of them.
 */
export function removeStaleSegments(only: (name: string) => boolean = () => true): string[] {
  const removed: string[] = [];
  for (const { name } of listSegments(Segment.list().filter(only)).filter((s) => s.stale)) {
    try {
      Segment.unlink(name);
      removed.push(name);
    } catch {
      // removed by someone else meanwhile, or not ours: leave it
    }
  }
  return removed;
}

export function describeClean(r: CleanReport): string {
  const parts = [r.killed.length ? `stopped ${r.killed.length} leftover process(es) (${r.killed.join(', ')})` : '', r.segments.length ? `removed segment ${r.segments.join(', ')}` : '', r.files.length ? `removed ${r.files.length} control file(s)` : ''];
  return parts.filter(Boolean).join(', ') || 'nothing was left behind';
}
