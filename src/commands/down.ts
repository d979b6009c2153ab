import { Flags } from '@oclif/core';
import { parseDuration } from '../config/units.js';
import { controlRequest } from '../control/client.js';
import { FaasflowCommand } from '../control/command.js';
import { FaasflowError, isFaasflowError } from '../control/errors.js';
import { cleanStale, inspectInstance, removeStaleSegments } from '../control/instance.js';
import { groupMembers, killQuietly, processAlive } from '../control/procs.js';

export interface DownResult {
  instance: string;
  /** 'running' (stopped by its supervisor), 'stale' (cleaned up after a dead one), 'absent'. */
  was: 'running' | 'stale' | 'absent';
  stopped: number[];
  segments: string[];
  files: string[];
}

export default class Down extends FaasflowCommand {
  static override summary = 'Stop an instance: drain, stop children in reverse order (TERM, then KILL after --timeout), remove its segment and control files.';
  static override examples = ['<%= config.bin %> down', '<%= config.bin %> down --clean-shm', '<%= config.bin %> down --instance demo --timeout 30s'];
  static override flags = {
    'clean-shm': Flags.boolean({ description: 'also unlink every stale faasflow segment in /dev/shm whose creator is dead' }),
    timeout: Flags.string({ char: 't', description: 'grace per process before SIGKILL (e.g. 10s, 500ms)', default: '10s' }),
  };

  async run(): Promise<DownResult> {
    const { flags } = await this.parse(Down);
    const timeoutMs = parseDuration(flags.timeout);
    if (timeoutMs === undefined) throw new FaasflowError('USAGE', `--timeout ${flags.timeout} is not a duration: write e.g. 10s or 500ms`);
    const p = await this.locate(flags);
    const h = inspectInstance(p);
    const out: DownResult = { instance: p.instance, was: h.kind === 'running' ? 'running' : h.kind === 'stale' ? 'stale' : 'absent', stopped: [], segments: [], files: [] };
    if (h.kind === 'foreign') throw new FaasflowError('ALREADY_RUNNING', `segment /dev/shm/faasflow-${p.instance} belongs to running pid ${h.creatorPid}, not to an instance in ${p.dir}: stop that process or pass the right --instance / FAASFLOW_RUNTIME_DIR`);
    if (h.kind === 'running') {
      const pid = h.state.supervisorPid;
      try {
        const r = await controlRequest<{ stopped: number[]; segment: string }>(p.socket, { cmd: 'down', timeoutMs }, {
          // Gateway drain, then containers: each may take the whole grace.
          timeoutMs: 2 * timeoutMs + 30_000,
          onEvent: (e) => {
            if (!this.jsonEnabled() && e.kind === 'child' && e.state === 'stopped') this.log(`  stopped ${e.id} (pid ${e.pid})`);
          },
        });
        out.stopped = r.stopped;
        out.segments.push(r.segment);
      } catch (err) {
        if (!isFaasflowError(err, 'TIMEOUT') && !isFaasflowError(err, 'CONTROL')) throw err;
        this.warn(`${err.message}; killing the instance's processes instead`);
      }
      if (!(await waitGone(pid, timeoutMs + 5000))) {
        // The supervisor did not finish: take the whole process group down and clean after it.
        for (const m of groupMembers(pid)) killQuietly(m, 'SIGKILL');
        const c = cleanStale(p, h.state);
        out.stopped.push(...c.killed);
        out.segments.push(...c.segments);
        out.files.push(...c.files);
      }
    } else if (h.kind === 'stale') {
      const c = cleanStale(p, h.state);
      Object.assign(out, { stopped: c.killed, segments: c.segments, files: c.files });
    }
    if (flags['clean-shm']) out.segments.push(...removeStaleSegments());
    if (!this.jsonEnabled()) this.log(summary(out));
    return out;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !processAlive(pid);
}

function summary(r: DownResult): string {
  const head = r.was === 'running' ? `instance "${r.instance}" stopped (${r.stopped.length} process(es))` : r.was === 'stale' ? `instance "${r.instance}" was stale (its supervisor had died): stopped ${r.stopped.length} leftover process(es)` : `instance "${r.instance}" is not running`;
  const segs = r.segments.length ? `; removed segment(s) ${r.segments.map((s) => `/dev/shm${s}`).join(', ')}` : '; no segment to remove';
  return head + segs + (r.files.length ? `; removed ${r.files.length} control file(s)` : '');
}
