// Cleaning up after a stale instance (its supervisor died and left processes, segments or control
// files behind) and after stale segments, reporting exactly what was removed. Whether an instance
// is stale is health.ts's.
import fs from 'node:fs';
import { Segment, domainSegmentName } from '../shm/index.js';
import { removeInstanceCgroups } from '../sys/cgroups.js';
import { removeSandboxTmpDirs } from '../sys/sandbox.js';
import { DOMAIN_SEPARATOR, segmentPath, type InstancePaths } from '../common/paths.js';
import type { InstanceStatus } from '../common/protocol.js';
import { listSegments } from '../observe/segments.js';
import { allProcesses, killQuietly, processAlive, sameProcess } from '../common/procs.js';
import { segmentCreator } from './health.js';

export interface CleanReport {
  killed: number[];
  segments: string[];
  files: string[];
}

/**
 * Stops what a dead supervisor left running, unlinks its segment, removes its control files.
 *
 * The supervisor led its own session and each child its own process group inside it, so what a
 * handler started is in its container's group (and the session) even after the container exited:
 * every member of the recorded session and groups is killed. A recorded pid that is alive but no
 * longer the recorded process (another start time) was reused: neither it nor its group or
 * session is touched. A dead one's group or session id cannot have been reused while it still
 * has members (the kernel keeps the id reserved), so its members are ours.
 */
export function cleanStale(p: InstancePaths, state?: InstanceStatus): CleanReport {
  const report: CleanReport = { killed: [], segments: [], files: [] };
  if (state) {
    const kill = (pid: number) => {
      if (pid > 0 && pid !== process.pid && pid !== process.ppid && !report.killed.includes(pid) && killQuietly(pid, 'SIGKILL')) report.killed.push(pid);
    };
    const records: { pid: number; startTime?: number }[] = state.children.filter((c) => c.pid > 0);
    if (!records.some((c) => c.pid === state.supervisorPid)) records.push({ pid: state.supervisorPid });
    // Recorded processes still running (an orphan on its way out, a stuck supervisor).
    const ours = records.filter((c) => !processAlive(c.pid) || sameProcess(c.pid, c.startTime));
    for (const c of ours) if (processAlive(c.pid)) kill(c.pid);
    const groups = new Set(ours.map((c) => c.pid));
    const session = ours.some((c) => c.pid === state.supervisorPid) ? state.supervisorPid : -1;
    // Then everything in their groups and the supervisor's session, in one pass over /proc.
    for (const s of allProcesses()) if (s.session === session || groups.has(s.pgrp)) kill(s.pid);
  }
  // The runtime segment (and any segment file of the instance), each only if its creator is dead.
  // A domain segment is a memfd: it went with the last process holding it (the supervisor and its
  // containers, stopped above). One found now is held by a live creator, so not stale.
  const live = new Set<string>();
  for (const seg of Segment.ofInstance(p.instance)) {
    if (seg.memfd) {
      live.add(seg.name);
      continue;
    }
    const creator = segmentCreator(seg.name);
    if (creator === undefined || !processAlive(creator)) {
      Segment.unlink(seg.name);
      report.segments.push(seg.name);
    }
  }
  // The domain segments the dead supervisor held, as its state file names them: gone with it.
  const domains = new Set((state?.children ?? []).flatMap((c) => (c.domain ? [domainSegmentName(p.instance, c.domain)] : [])));
  report.segments.push(...[...domains].filter((n) => !live.has(n) && !report.segments.includes(n)).sort());
  // With its processes gone, its domains' cgroups and temporary directories can go too.
  removeInstanceCgroups(p.instance);
  removeSandboxTmpDirs(p.instance);
  for (const f of [p.socket, p.token, p.state, p.config]) {
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
  // A memfd is found only through its live creator, so it is never stale: only files are removed.
  for (const { name } of listSegments(Segment.list().filter((e) => !e.memfd && only(e.name))).filter((s) => s.stale)) {
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
  const parts = [r.killed.length ? `stopped ${r.killed.length} leftover process(es) (${r.killed.join(', ')})` : '', r.segments.length ? `removed segment(s) ${describeSegments(r.segments)}` : '', r.files.length ? `removed ${r.files.length} control file(s)` : ''];
  return parts.filter(Boolean).join(', ') || 'nothing was left behind';
}

/**
 * Segments as a user finds them: a runtime segment by its /dev/shm file, a domain segment by the
 * name lsof shows for its memfd (it has no file: it went with the processes holding it).
 */
export function describeSegments(names: string[]): string {
  return names.map((n) => (n.includes(DOMAIN_SEPARATOR) ? `memfd:${n.slice(1)}` : segmentPath(n))).join(', ');
}
