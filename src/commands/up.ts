import fs from 'node:fs';
import { Flags } from '@oclif/core';
import { Listr, type ListrTask } from 'listr2';
import { loadConfig } from '../config/load.js';
import type { ResolvedConfig } from '../config/types.js';
import { FaasflowCommand } from '../control/command.js';
import { FaasflowError } from '../control/errors.js';
import { cleanStale, describeClean, inspectInstance, type CleanReport } from '../control/instance.js';
import { exited, followStartup, launchSupervisor } from '../control/launch.js';
import { lockStart } from '../control/lock.js';
import { checkInstanceName, instancePaths, type InstancePaths } from '../control/paths.js';
import { SUPERVISOR_STEPS, type StepName } from '../control/protocol.js';
import { StepWaiter } from '../control/steps.js';

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
  /** Releases the instance's start lock, held from the stale check until the start is over. */
  unlock?: () => void;
}

/** How long a container may be starting before the Containers step names it, and how often. */
const WAITING_NOTE_MS = 5000;

const TITLES: Record<StepName, string> = { segment: 'Shared-memory segment', handlers: 'Handlers', gateway: 'Gateway', containers: 'Containers', health: 'Health check' };

export default class Up extends FaasflowCommand {
  static override summary = 'Start an instance: segment, gateway, function containers, under a supervisor.';
  static override examples = ['<%= config.bin %> up', '<%= config.bin %> up --instance demo --config ./faasflow.config.ts', '<%= config.bin %> up --foreground', '<%= config.bin %> up --reset'];
  static override flags = {
    foreground: Flags.boolean({ char: 'f', description: 'stay attached and print every log line; Ctrl-C stops the instance' }),
    reset: Flags.boolean({ description: 'forget functions deployed with `faasflow deploy` and serve the config as written' }),
    'log-format': Flags.string({ description: 'with --foreground: print log lines as text, or as JSON lines {t, log, who, msg} for a log collector', options: ['text', 'json'], default: 'text' }),
  };

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
          task.title = `Config: ${c.cfg.file || 'built-in examples'} (${c.cfg.functions.length} function${c.cfg.functions.length === 1 ? '' : 's'}, port ${c.cfg.gateway.port})`;
        },
      },
      {
        title: 'Stale-instance check',
        task: (c, task) => {
          const p = c.paths!;
          c.unlock = lockStart(p);
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
          if (flags.reset) for (const f of [c.paths!.deployments, c.paths!.bundles]) fs.rmSync(f, { recursive: true, force: true });
          supervisor = launchSupervisor(c.cfg!, c.paths!, flags.foreground, flags['log-format'] === 'json' ? 'json' : 'text');
          task.title = `Supervisor pid ${supervisor.pid}`;
          // Steps below resolve as the supervisor reports them; a 'fatal' fails the current one.
          void followStartup(supervisor, c.paths!, (e) => steps.on(e)).catch((err: Error) => steps.fail(err));
        },
      },
    ];
    const remote: ListrTask<Ctx>[] = SUPERVISOR_STEPS.map((step) => ({
      title: TITLES[step],
      task: async (_c, task) => {
        // A container that crashes while starting is retried with backoff: say so, or the user
        // watches a spinner for minutes.
        let tick: NodeJS.Timeout | undefined;
        if (step === 'containers') {
          steps.progress = (m) => (task.output = m);
          // One that hangs while loading is silent until its ready timeout: say who we wait for.
          let noted = 0;
          tick = setInterval(() => {
            const w = steps.waitingFor(WAITING_NOTE_MS);
            if (!w || Date.now() - noted < WAITING_NOTE_MS) return;
            noted = Date.now();
            task.output = w;
          }, 1000);
        }
        const e = await steps.wait(step).finally(() => clearInterval(tick));
        task.title = `${TITLES[step]}: ${e.message}`;
        if (e.status === 'warn') warnings.push(e.message);
        if (step === 'health') await steps.waitRunning();
      },
    }));
    // listr would print a failed step's message, then oclif the same message again as the error:
    // listr gets an empty one (its renderer marks the step failed), the error is reported once.
    let failure: unknown;
    const once = (tasks: ListrTask<Ctx>[]): ListrTask<Ctx>[] =>
      tasks.map((t) => ({
        ...t,
        task: async (c, task) => {
          try {
            return await t.task(c, task);
          } catch (err) {
            failure ??= err;
            throw new Error('', { cause: err });
          }
        },
      }));
    const list = new Listr<Ctx, 'default' | 'silent', 'simple'>(once([...local, ...remote]), { renderer: this.jsonEnabled() ? 'silent' : 'default', fallbackRenderer: 'simple', exitOnError: true, registerSignalListeners: false, rendererOptions: { showErrorMessage: false } });
    // Ctrl-C while starting aborts the start: the supervisor shuts down what it began.
    let aborted = false;
    const abort = () => {
      aborted = true;
      supervisor?.kill('SIGTERM');
    };
    process.once('SIGINT', abort);
    try {
      await list.run(ctx);
      process.off('SIGINT', abort);
      ctx.unlock?.();
    } catch (err) {
      // Whatever failed, a supervisor we started has exited before we report, and nothing of
      // this start is left (a supervisor killed early may not have cleaned up itself).
      if (supervisor && ctx.paths) {
        await exited(supervisor);
        const h = inspectInstance(ctx.paths);
        if (h.kind === 'stale') cleanStale(ctx.paths, h.state);
        fs.rmSync(ctx.paths.config, { force: true });
      }
      ctx.unlock?.();
      if (aborted) throw new FaasflowError('START_FAILED', 'startup aborted (Ctrl-C): everything it had started was stopped and removed');
      throw failure ?? err;
    }
    const cfg = ctx.cfg!;
    const ran = steps.running!;
    const url = `http://${cfg.gateway.host}:${ran.kind === 'running' ? ran.port : cfg.gateway.port}`;
    for (const w of warnings) this.warn(w);
    const first = steps.firstFunction ?? cfg.functions[0]?.id;
    const hint = first === undefined ? `no functions yet: faasflow deploy ./handler.ts --id 1 --instance ${cfg.instance}` : `try: curl -X POST ${url}/function/${first} -d 'Hello World'`;
    if (!this.jsonEnabled()) this.log(`faasflow "${cfg.instance}" is up: ${url}  (${hint})`);
    if (flags.foreground && supervisor) {
      const sup = supervisor;
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => sup.kill(sig));
      process.exitCode = (await exited(sup)) ?? 1;
    }
    return { instance: cfg.instance, supervisorPid: supervisor?.pid ?? 0, url, runtimeDir: cfg.runtimeDir, segment: `/faasflow-${cfg.instance}`, recovered: ctx.recovered, warnings };
  }
}
