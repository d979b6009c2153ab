// Stopping an instance for `faasflow down`: the supervisor drains and stops everything and
// answers. One that is alive but does not answer (stopped, its control socket gone, stuck) gets
// SIGTERM and, after the grace, SIGKILL; one that does not exit within the grace is stopped by
// force (its whole process group); either is then cleaned up after like a stale instance.
import { FaasflowError, isFaasflowError } from '../common/errors.js';
import type { InstancePaths } from '../common/paths.js';
import { groupMembers, killQuietly, procStat, processAlive, sameProcess } from '../common/procs.js';
import type { SupervisorEvent } from '../common/protocol.js';
import { controlRequest } from './client.js';
import { inspectInstance, silentReason } from './health.js';
import { cleanStale, describeSegments } from './instance.js';

/** How often a stop looks whether the supervisor has exited. */
const POLL_MS = 50;

export interface StopReport {
  instance: string;
  /**
   * 'running' (stopped by its supervisor), 'silent' (its supervisor lived but did not answer: stopped
   * by signals), 'stale' (cleaned up after a dead one), 'absent'.
   */
  was: 'running' | 'silent' | 'stale' | 'absent';
  stopped: number[];
  segments: string[];
  files: string[];
}

export interface StopOptions {
  /** Grace per process before SIGKILL. */
  timeoutMs: number;
  onEvent?: (e: SupervisorEvent) => void;
  /** Said when the supervisor does not answer and the instance is stopped by force. */
  warn?: (message: string) => void;
}

/** A supervisor that has not said a word this long after `down` is not going to. */
const ANSWER_MS = 5000;

export async function stopInstance(p: InstancePaths, o: StopOptions): Promise<StopReport> {
  const h = inspectInstance(p);
  const out: StopReport = { instance: p.instance, was: h.kind === 'running' ? 'running' : h.kind === 'stale' ? 'stale' : 'absent', stopped: [], segments: [], files: [] };
  if (h.kind === 'foreign') throw new FaasflowError('ALREADY_RUNNING', `segment ${h.segment} belongs to running pid ${h.creatorPid}, not to an instance in ${p.dir}: stop that process or pass the right --instance / FAASFLOW_RUNTIME_DIR`);
  if (h.kind === 'stale') {
    const c = cleanStale(p, h.state);
    return { ...out, stopped: c.killed, segments: c.segments, files: c.files };
  }
  if (h.kind !== 'running') return out;
  const pid = h.state.supervisorPid;
  let silent = silentReason(p, h.state);
  if (!silent) {
    try {
      // Gateway drain, then containers: each may take the whole grace.
      const r = await controlRequest<{ stopped: number[]; segment: string; segments?: string[] }>(p, { cmd: 'down', timeoutMs: o.timeoutMs }, { timeoutMs: 2 * o.timeoutMs + 30_000, firstReplyMs: ANSWER_MS, onEvent: o.onEvent });
      out.stopped = r.stopped;
      out.segments.push(...(r.segments ?? [r.segment]));
    } catch (err) {
      if (!isFaasflowError(err, 'TIMEOUT') && !isFaasflowError(err, 'CONTROL') && !isFaasflowError(err, 'NOT_RUNNING')) throw err;
      silent = err.message;
    }
  }
  // A stopped process cannot act on SIGTERM at all, so it gets no grace.
  const stopped = ['T', 't'].includes(procStat(pid)?.state ?? '');
  if (silent) {
    // The state file names its processes: ask the supervisor to stop (it drains and cleans up if
    // it can still run), and after the grace take everything down by force.
    out.was = 'silent';
    o.warn?.(`${silent}; stopping its processes by signal (${stopped ? 'SIGKILL' : `SIGTERM, SIGKILL after ${Math.round(o.timeoutMs / 1000) + 5} s`})`);
    killQuietly(pid, 'SIGTERM');
    out.stopped.push(...h.state.children.filter((c) => c.pid > 0 && sameProcess(c.pid, c.startTime)).map((c) => c.pid));
  }
  const gone = await waitGone(pid, stopped ? 0 : o.timeoutMs + 5000);
  if (silent || !gone) {
    // Whatever is left: the supervisor's group, then everything the state file names, as for a
    // supervisor that died.
    for (const m of groupMembers(pid)) killQuietly(m, 'SIGKILL');
    await waitGone(pid, 5000);
    const c = cleanStale(p, h.state);
    out.stopped.push(...c.killed.filter((k) => !out.stopped.includes(k)));
    out.segments.push(...c.segments);
    out.files.push(...c.files);
  }
  return out;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return !processAlive(pid);
}

export function describeStop(r: StopReport): string {
  const head = r.was === 'running' ? `instance "${r.instance}" stopped (${r.stopped.length} process(es))` : r.was === 'silent' ? `instance "${r.instance}" did not answer: stopped ${r.stopped.length} process(es) by signal` : r.was === 'stale' ? `instance "${r.instance}" was stale (its supervisor had died): stopped ${r.stopped.length} leftover process(es)` : `instance "${r.instance}" is not running`;
  const segs = r.segments.length ? `; removed segment(s) ${describeSegments(r.segments)}` : '; no segment to remove';
  return head + segs + (r.files.length ? `; removed ${r.files.length} control file(s)` : '');
}
