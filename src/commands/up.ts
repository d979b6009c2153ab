import { Flags } from '@oclif/core';
import { Listr, type ListrTask } from 'listr2';
import { loadConfig } from '../config/load.js';
import type { ResolvedConfig } from '../config/types.js';
import { FaasflowCommand } from '../control/command.js';
import { FaasflowError } from '../control/errors.js';
import { cleanStale, inspectInstance, type CleanReport } from '../control/instance.js';
import { exited, followStartup, launchSupervisor } from '../control/launch.js';
import { checkInstanceName, instancePaths, type InstancePaths } from '../control/paths.js';
import { SUPERVISOR_STEPS, type StepName, type SupervisorEvent } from '../control/protocol.js';

export interface UpResult {
  instance: string;
  supervisorPid: number;
  url: string;
  runtimeDir: string;
  segment: string;
  recovered: CleanReport | null;
  warnings: string[];
}

interface Ctx {
  cfg?: ResolvedConfig;
  paths?: InstancePaths;
  recovered: CleanReport | null;
}

const TITLES: Record<StepName, string> = { segment: 'Shared-memory segment', handlers: 'Handlers', gateway: 'Gateway', containers: 'Containers', health: 'Health check' };

export default class Up extends FaasflowCommand {
  static override summary = 'Start an instance: segment, gateway, function containers, under a supervisor.';
  static override examples = ['<%= config.bin %> up', '<%= config.bin %> up --instance demo --config ./faasflow.config.ts', '<%= config.bin %> up --foreground'];
  static override flags = { foreground: Flags.boolean({ char: 'f', description: 'stay attached and print every log line; Ctrl-C stops the instance' }) };

  async run(): Promise<UpResult> {
    const { flags } = await this.parse(Up);
    const ctx: Ctx = { recovered: null };
    const warnings: string[] = [];
    const steps = new StepWaiter();
    let supervisor: ReturnType<typeof launchSupervisor> | undefined;
    const local: ListrTask<Ctx>[] = [
      {
        title: 'Config',
        task: async (c, task) => {
          c.cfg = await loadConfig({ cwd: process.cwd(), file: flags.config, instance: checkInstanceName(flags.instance) });
          c.paths = instancePaths(c.cfg.instance, c.cfg.runtimeDir);
          task.title = `Config: ${c.cfg.file || 'built-in examples'} (${c.cfg.functions.length} functions, port ${c.cfg.gateway.port})`;
        },
      },
      {
        title: 'Stale-instance check',
        task: (c, task) => {
          const p = c.paths!;
          const h = inspectInstance(p);
          if (h.kind === 'running') throw new FaasflowError('ALREADY_RUNNING', `instance "${p.instance}" is already running (supervisor pid ${h.state.supervisorPid}, http://${h.state.host}:${h.state.port}): run \`faasflow down --instance ${p.instance}\` first or pick another --instance`);
          if (h.kind === 'foreign') throw new FaasflowError('ALREADY_RUNNING', `segment /dev/shm/faasflow-${p.instance} belongs to running pid ${h.creatorPid} (an instance with another runtime directory?): stop it or pick another --instance`);
          if (h.kind === 'stale') {
            c.recovered = cleanStale(p, h.state);
            task.title = `Stale instance recovered: ${h.reason}; ${describeClean(c.recovered)}`;
          } else task.title = 'No previous instance';
        },
      },
      {
        title: 'Supervisor',
        task: (c, task) => {
          supervisor = launchSupervisor(c.cfg!, c.paths!, flags.foreground);
          task.title = `Supervisor pid ${supervisor.pid}`;
          // Steps below resolve as the supervisor reports them; a 'fatal' fails the current one.
          void followStartup(supervisor, c.paths!, (e) => steps.on(e)).catch((err: Error) => steps.fail(err));
        },
      },
    ];
    const remote: ListrTask<Ctx>[] = SUPERVISOR_STEPS.map((step) => ({
      title: TITLES[step],
      task: async (_c, task) => {
        const e = await steps.wait(step);
        task.title = `${TITLES[step]}: ${e.message}`;
        if (e.status === 'warn') warnings.push(e.message);
        if (step === 'health') await steps.waitRunning();
      },
    }));
    const list = new Listr<Ctx, 'default' | 'silent', 'simple'>([...local, ...remote], { renderer: this.jsonEnabled() ? 'silent' : 'default', fallbackRenderer: 'simple', exitOnError: true, rendererOptions: { collapseErrors: false } });
    try {
      await list.run(ctx);
    } catch (err) {
      // Whatever failed, a supervisor we started has cleaned up and exited before we report.
      if (supervisor) await exited(supervisor);
      throw err;
    }
    const cfg = ctx.cfg!;
    const ran = steps.running!;
    const url = `http://${cfg.gateway.host}:${ran.kind === 'running' ? ran.port : cfg.gateway.port}`;
    for (const w of warnings) this.warn(w);
    if (!this.jsonEnabled()) this.log(`faasflow "${cfg.instance}" is up: ${url}  (try: curl -X POST ${url}/function/${cfg.functions[0]?.id ?? 1} -d 'Hello World')`);
    if (flags.foreground && supervisor) {
      const sup = supervisor;
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => sup.kill(sig));
      process.exitCode = (await exited(sup)) ?? 1;
    }
    return { instance: cfg.instance, supervisorPid: supervisor?.pid ?? 0, url, runtimeDir: cfg.runtimeDir, segment: `/faasflow-${cfg.instance}`, recovered: ctx.recovered, warnings };
  }
}

function describeClean(r: CleanReport): string {
  const parts = [r.killed.length ? `stopped ${r.killed.length} leftover process(es) (${r.killed.join(', ')})` : '', r.segments.length ? `removed segment ${r.segments.join(', ')}` : '', r.files.length ? `removed ${r.files.length} control file(s)` : ''];
  return parts.filter(Boolean).join(', ') || 'nothing was left behind';
}

/** Turns the supervisor's step events into per-step promises for listr2. */
class StepWaiter {
  running: SupervisorEvent | undefined;
  private readonly results = new Map<StepName, { status: string; message: string }>();
  private failure: Error | undefined;
  private wake: () => void = () => undefined;

  on(e: SupervisorEvent): void {
    if (e.kind === 'step' && e.status !== 'start') this.results.set(e.step, e);
    if (e.kind === 'running') this.running = e;
    if (e.kind === 'fatal') this.failure = new FaasflowError('START_FAILED', e.message);
    this.wake();
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  async waitRunning(): Promise<void> {
    while (!this.running) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async wait(step: StepName): Promise<{ status: string; message: string }> {
    for (;;) {
      const r = this.results.get(step);
      if (r?.status === 'failed') throw new FaasflowError('START_FAILED', r.message);
      if (r) return r;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
