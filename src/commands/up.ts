import path from 'node:path';
import * as Flags from '@oclif/core/flags';
import { Listr, type ListrTask } from 'listr2';
import { loadConfig } from '../config/load.js';
import type { ResolvedConfig } from '../config/types.js';
import { FaasflowCommand } from '../control/command.js';
import { FaasflowError } from '../common/errors.js';
import type { CleanReport } from '../control/instance.js';
import { exited, followStartup, launchSupervisor } from '../control/launch.js';
import { cleanFailedStart, describeRecovery, forgetDeployments, prepareStart } from '../control/start.js';
import { checkInstanceName, instancePaths, type InstancePaths } from '../common/paths.js';
import { StepWaiter, reportingOnce, stepTasks } from '../control/steps.js';
import { segmentName } from '../shm/index.js';
import { PACKAGE_ROOT } from '../config/files.js';

export interface UpResult {
  instance: string;
  supervisorPid: number;
  url: string;
  runtimeDir: string;
  segment: string;
  recovered: CleanReport | null;
  warnings: string[];
  /** The handlers' type check: run now, answered by its record of an unchanged earlier pass, or none to check. */
  typeCheck: 'checked' | 'cached' | 'none';
}

interface Ctx {
  cfg?: ResolvedConfig;
  paths?: InstancePaths;
  recovered: CleanReport | null;
  typeCheck: UpResult['typeCheck'];
  /** Releases the instance's start lock, held from the stale check until the start is over. */
  unlock?: () => void;
}

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
    const ctx: Ctx = { recovered: null, typeCheck: 'none' };
    const warnings: string[] = [];
    const steps = new StepWaiter();
    let supervisor: ReturnType<typeof launchSupervisor> | undefined;
    let aborted = false;
    const local: ListrTask<Ctx>[] = [
      {
        title: 'Config',
        task: async (c, task) => {
          c.cfg = await loadConfig({ cwd: process.cwd(), file: flags.config, instance: checkInstanceName(flags.instance) });
          c.paths = instancePaths(c.cfg.instance, c.cfg.runtimeDir);
          const flows = c.cfg.flows.length ? `, ${c.cfg.flows.length} flow${c.cfg.flows.length === 1 ? '' : 's'}` : '';
          task.title = `Config: ${c.cfg.file || 'built-in examples'} (${c.cfg.functions.length} function${c.cfg.functions.length === 1 ? '' : 's'}${flows}, port ${c.cfg.gateway.port})`;
        },
      },
      {
        // The check `deploy` makes: a handler with type errors is refused before anything starts.
        title: 'Handler types',
        task: async (c, task) => {
          // The package's own examples are checked when it is built (`npm run typecheck`); shipped,
          // they import its sources, which a package does not ship.
          const own = `${path.join(PACKAGE_ROOT, 'functions')}${path.sep}`;
          const sources = [...new Set(c.cfg!.functions.map((f) => f.handler))].filter((s) => !s.startsWith(own));
          if (!sources.length) return;
          // Loaded here: the check loads the TypeScript compiler, but only when its record misses.
          const { checkHandlersCached } = await import('../runtime/handler/check-cache.js');
          c.typeCheck = (await checkHandlersCached(sources)).cached ? 'cached' : 'checked';
          task.title = `Handler types: ${sources.length} file(s) ${c.typeCheck === 'cached' ? 'unchanged since they were checked' : 'checked'}`;
        },
      },
      {
        title: 'Stale-instance check',
        task: (c, task) => {
          const prepared = prepareStart(c.paths!);
          c.unlock = prepared.unlock;
          c.recovered = prepared.recovered?.report ?? null;
          task.title = describeRecovery(prepared.recovered);
        },
      },
      {
        title: 'Supervisor',
        task: (c, task) => {
          if (aborted) throw new FaasflowError('START_FAILED', 'startup aborted before the supervisor started');
          if (flags.reset) forgetDeployments(c.paths!);
          supervisor = launchSupervisor(c.cfg!, c.paths!, flags.foreground, flags['log-format'] === 'json' ? 'json' : 'text');
          task.title = `Supervisor pid ${supervisor.pid}`;
          // Steps below resolve as the supervisor reports them; a 'fatal' fails the current one.
          void followStartup(supervisor, c.paths!, (e) => steps.on(e)).catch((err: Error) => steps.fail(err));
        },
      },
    ];
    const run = reportingOnce([...local, ...stepTasks<Ctx>(steps, warnings)]);
    // In the foreground with JSON logs, stdout is for a log collector: every line of it is a JSON
    // log line, the start's steps and its outcome included (after the start, not as it goes).
    const jsonLines = flags.foreground && flags['log-format'] === 'json' && !this.jsonEnabled();
    const line = (msg: string) => this.log(JSON.stringify({ t: new Date().toISOString(), log: 'up', who: 'up', msg }));
    const list = new Listr<Ctx, 'default' | 'silent', 'simple'>(run.tasks, { renderer: this.jsonEnabled() || jsonLines ? 'silent' : 'default', fallbackRenderer: 'simple', exitOnError: true, registerSignalListeners: false, rendererOptions: { showErrorMessage: false } });
    // Ctrl-C or SIGTERM while starting aborts the start: the supervisor shuts down what it began.
    // (SIGTERM matters most for `up --foreground` as a container's PID 1, which has no default
    // action for it: without a handler a stop during startup would be ignored.)
    const abort = () => {
      aborted = true;
      supervisor?.kill('SIGTERM');
    };
    process.once('SIGINT', abort);
    process.once('SIGTERM', abort);
    try {
      await list.run(ctx);
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
      ctx.unlock?.();
    } catch (err) {
      if (supervisor && ctx.paths) await cleanFailedStart(supervisor, ctx.paths);
      ctx.unlock?.();
      if (aborted) throw new FaasflowError('START_FAILED', 'startup aborted (Ctrl-C or SIGTERM): everything it had started was stopped and removed');
      throw run.failure() ?? err;
    }
    const cfg = ctx.cfg!;
    const ran = steps.running!;
    const url = `http://${cfg.gateway.host}:${ran.kind === 'running' ? ran.port : cfg.gateway.port}`;
    if (jsonLines) for (const task of list.tasks) if (task.title) line(task.title);
    for (const w of warnings) if (jsonLines) line(`warning: ${w}`);
    else this.warn(w);
    const first = steps.firstFunction ?? cfg.functions[0]?.id;
    const flow = cfg.flows[0]?.name;
    const hint = first === undefined ? `no functions yet: faasflow deploy ./handler.ts --id 1 --instance ${cfg.instance}` : `try: curl -X POST ${url}/function/${first} -d 'Hello World'${flow ? `, or a flow: curl -X POST ${url}/flow/${flow} -d 'Hello World'` : ''}`;
    if (jsonLines) line(`faasflow "${cfg.instance}" is up: ${url}  (${hint})`);
    else if (!this.jsonEnabled()) this.log(`faasflow "${cfg.instance}" is up: ${url}  (${hint})`);
    if (flags.foreground && supervisor) {
      const sup = supervisor;
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => sup.kill(sig));
      process.exitCode = (await exited(sup)) ?? 1;
    }
    return { instance: cfg.instance, supervisorPid: supervisor?.pid ?? 0, url, runtimeDir: cfg.runtimeDir, segment: segmentName(cfg.instance), recovered: ctx.recovered, warnings, typeCheck: ctx.typeCheck };
  }
}
