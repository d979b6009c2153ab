// Stopping an instance for `faasflow down`: the supervisor drains and stops everything and
// answers; one that does not answer, or does not exit within the grace, is stopped by force
// (its whole process group) and cleaned up after like a stale instance.
import { FaasflowError, isFaasflowError } from '../common/errors.js';
import type { InstancePaths } from '../common/paths.js';
import { groupMembers, killQuietly, processAlive } from '../common/procs.js';
import type { SupervisorEvent } from '../common/protocol.js';
import { controlRequest } from './client.js';
import { inspectInstance } from './health.js';
import { cleanStale, describeSegments } from './instance.js';

/** How often a stop looks whether the supervisor has exited. */
const POLL_MS = 50;

export interface StopReport {
  instance: string;
  /** 'running' (stopped by its supervisor), 'stale' (cleaned up after a dead one), 'absent'. */
  was: 'running' | 'stale' | 'absent';
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
  try {
    // Gateway drain, then containers: each may take the whole grace.
    const r = await controlRequest<{ stopped: number[]; segment: string; segments?: string[] }>(p.socket, { cmd: 'down', timeoutMs: o.timeoutMs }, { timeoutMs: 2 * o.timeoutMs + 30_000, onEvent: o.onEvent });
    out.stopped = r.stopped;
    out.segments.push(...(r.segments ?? [r.segment]));
  } catch (err) {
    if (!isFaasflowError(err, 'TIMEOUT') && !isFaasflowError(err, 'CONTROL')) throw err;
    o.warn?.(`${err.message}; killing the instance's processes instead`);
  }
  if (!(await waitGone(pid, o.timeoutMs + 5000))) {
    // The supervisor did not finish: take the whole process group down and clean after it.
    for (const m of groupMembers(pid)) killQuietly(m, 'SIGKILL');
    const c = cleanStale(p, h.state);
    out.stopped.push(...c.killed);
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
  const head = r.was === 'running' ? `instance "${r.instance}" stopped (${r.stopped.length} process(es))` : r.was === 'stale' ? `instance "${r.instance}" was stale (its supervisor had died): stopped ${r.stopped.length} leftover process(es)` : `instance "${r.instance}" is not running`;
  const segs = r.segments.length ? `; removed segment(s) ${describeSegments(r.segments)}` : '; no segment to remove';
  return head + segs + (r.files.length ? `; removed ${r.files.length} control file(s)` : '');
}
