// The restart decision: a pure function of (spec, restart history, exit) → action, so every rule
// is unit-tested without a process. The caller owns the clock and the history.
import { EXIT_PERMANENT } from '../env.js';
import type { Intensity, RestartType } from './spec.js';

export interface ChildExit {
  code: number | null;
  signal: string | null;
  /** The supervisor asked the child to stop (down, redeploy, drain): never restarted. */
  requested: boolean;
  at: number;
  /** Why the supervisor killed it, when it did (not ready in time): said instead of the signal. */
  cause?: string;
}

export type Action =
  | { action: 'restart'; delayMs: number; reason: string }
  | { action: 'give-up'; reason: string }
  | { action: 'none'; reason: string };

export function describeExit(e: Pick<ChildExit, 'code' | 'signal' | 'cause'>): string {
  if (e.cause) return `${e.cause}, killed`;
  return e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
}

/** Restarts of a child still inside the intensity window at `now`. */
export function recentRestarts(history: readonly number[], now: number, periodMs: number): number {
  return history.filter((t) => now - t < periodMs).length;
}

/**
 * `history` holds the times of this child's previous restarts. Backoff doubles with each restart
 * still inside the window (so a child that stayed up a whole period starts again at the minimum);
 * past `maxRestarts` within the window the child is a crash loop and the supervisor gives up.
 */
export function decide(restart: RestartType, history: readonly number[], exit: ChildExit, k: Intensity): Action {
  const how = describeExit(exit);
  if (exit.requested) return { action: 'none', reason: `stopped on request (${how})` };
  if (exit.code === EXIT_PERMANENT) return { action: 'give-up', reason: `${how}: the child reported a permanent failure (exit ${EXIT_PERMANENT}), not restarting` };
  const clean = exit.code === 0 && exit.signal === null;
  if (restart === 'temporary') return { action: 'none', reason: `${how}; temporary child, not restarted` };
  if (restart === 'transient' && clean) return { action: 'none', reason: `${how}; transient child finished normally` };
  const recent = recentRestarts(history, exit.at, k.periodMs);
  if (recent >= k.maxRestarts) {
    return { action: 'give-up', reason: `${how}; crash loop: ${recent} restarts within ${Math.round(k.periodMs / 1000)} s (limit ${k.maxRestarts}), giving up` };
  }
  const delayMs = Math.min(k.backoffMaxMs, k.backoffMinMs * 2 ** recent);
  return { action: 'restart', delayMs, reason: `${how}; restart ${recent + 1}/${k.maxRestarts} in ${delayMs} ms` };
}
