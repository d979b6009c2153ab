// `up`'s view of the supervisor's lifecycle events: one promise per startup step, and the listr2
// tasks that render them.
import type { ListrTask } from 'listr2';
import { FaasflowError } from '../common/errors.js';
import { SUPERVISOR_STEPS, type StepName, type SupervisorEvent } from '../common/protocol.js';

/** Turns the supervisor's step events into per-step promises for listr2. */
export class StepWaiter {
  running: SupervisorEvent | undefined;
  private readonly results = new Map<StepName, { status: string; message: string }>();
  private failure: Error | undefined;
  private wake: () => void = () => undefined;
  /** Containers starting (id → when), for saying which one a long Containers step waits for. */
  private readonly starting = new Map<string, number>();

  /** Told what is happening while a step waits (a container crashed at start and is restarting). */
  progress: (message: string) => void = () => undefined;

  on(e: SupervisorEvent): void {
    if (e.kind === 'step' && e.status !== 'start') this.results.set(e.step, e);
    if (e.kind === 'child' && e.id !== 'gateway') {
      if (e.state === 'starting') this.starting.set(e.id, e.at);
      else this.starting.delete(e.id);
    }
    if (e.kind === 'child' && !this.running && (e.state === 'crashed' || e.state === 'failed')) this.progress(`${e.id}: ${e.message}`);
    if (e.kind === 'running') this.running = e;
    if (e.kind === 'fatal') this.failure = new FaasflowError('START_FAILED', e.message);
    if (e.kind === 'stopped' && !this.running) this.failure ??= new FaasflowError('START_FAILED', 'the supervisor was stopped before the instance was up; it removed what it had started');
    this.wake();
  }

  /** Which containers have been starting for longer than `ms`, and for how long, if any. */
  waitingFor(ms: number, now = Date.now()): string | undefined {
    const slow = [...this.starting].filter(([, at]) => now - at >= ms).map(([id, at]) => `${id} (${Math.round((now - at) / 1000)} s)`);
    return slow.length ? `waiting for ${slow.join(', ')} to report ready` : undefined;
  }

  /** The first function id the supervisor reported serving (config or deployed), if any. */
  get firstFunction(): number | undefined {
    const m = /(\d+)=/.exec(this.results.get('handlers')?.message ?? '');
    return m ? Number(m[1]) : undefined;
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

/** How long a container may be starting before the Containers step names it, and how often. */
const WAITING_NOTE_MS = 5000;

const TITLES: Record<StepName, string> = { segment: 'Shared-memory segment', handlers: 'Handlers', gateway: 'Gateway', containers: 'Containers', health: 'Health check' };

/** One listr2 task per supervisor step, each done when the supervisor reports it; warnings are collected. */
export function stepTasks<Ctx>(steps: StepWaiter, warnings: string[]): ListrTask<Ctx>[] {
  return SUPERVISOR_STEPS.map((step) => ({
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
}

/**
 * listr would print a failed step's message, then oclif the same message again as the error:
 * listr gets an empty one (its renderer marks the step failed), and `failure()` is the error to
 * report once.
 */
export function reportingOnce<Ctx>(tasks: ListrTask<Ctx>[]): { tasks: ListrTask<Ctx>[]; failure: () => unknown } {
  let failure: unknown;
  return {
    tasks: tasks.map((t) => ({
      ...t,
      task: async (c, task) => {
        try {
          return await t.task(c, task);
        } catch (err) {
          failure ??= err;
          throw new Error('', { cause: err });
        }
      },
    })),
    failure: () => failure,
  };
}
