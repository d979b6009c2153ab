// The supervisor's typed lifecycle events: every one is logged, kept (the last ~2000, so a
// client that connects late, `up` say, sees how startup went) and passed to whoever listens on
// the control socket. Startup is a sequence of steps; `up`'s listr2 steps only render them.
import { FaasflowError } from '../../common/errors.js';
import type { StepName, SupervisorEvent } from '../../common/protocol.js';
import { logFileFor } from '../../common/paths.js';
import type { LogFiles } from './logs.js';

const KEEP = 2000;

export type EventListener = (e: SupervisorEvent) => void;

export class Events {
  private readonly history: SupervisorEvent[] = [];
  private readonly listeners = new Set<EventListener>();

  constructor(
    private readonly logs: LogFiles,
    /** A shutdown (signal, failed significant child) during startup ends it at the next step. */
    private readonly stopping: () => boolean,
  ) {}

  emit(e: SupervisorEvent): void {
    this.history.push(e);
    if (this.history.length > KEEP) this.history.splice(0, KEEP / 2);
    const text = e.kind === 'step' ? `[${e.step}] ${e.status} ${e.message}` : e.kind === 'child' ? `${e.id} pid ${e.pid} ${e.state} ${e.message}` : 'message' in e ? e.message : e.kind;
    this.logs.write(logFileFor('supervisor'), `supervisor[${process.pid}]`, text);
    for (const l of this.listeners) l(e);
  }

  info(message: string): void {
    this.emit({ kind: 'info', message, at: Date.now() });
  }

  /** Passes every event kept so far, then each new one, to `l` until the returned function is called. */
  follow(l: EventListener, replay: boolean): () => void {
    if (replay) for (const e of this.history) l(e);
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Runs one startup step: its start, and its failure with the reason; `fn` reports its own end with `done`. */
  async step<T>(step: StepName, what: string, fn: () => Promise<T> | T): Promise<T> {
    if (this.stopping()) throw new FaasflowError('START_FAILED', 'the supervisor is shutting down');
    this.emit({ kind: 'step', step, status: 'start', message: what, at: Date.now() });
    try {
      return await fn();
    } catch (err) {
      this.emit({ kind: 'step', step, status: 'failed', message: (err as Error).message, at: Date.now() });
      throw err;
    }
  }

  done(step: StepName, message: string, status: 'done' | 'warn' = 'done'): void {
    this.emit({ kind: 'step', step, status, message, at: Date.now() });
  }
}
