// The restart decision: a pure function of (spec, restart record, exit, shutting down) → action,
// with all of the bookkeeping: which exits count as requested, which restarts are still inside the
// intensity window, the backoff, the give-up, and the record the child carries into its next
// start. The caller only carries the action out (a timer, a state, a log line), so every rule is
// unit-tested without a process or a clock.
import { EXIT_PERMANENT } from '../../common/env.js';
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

/** What the policy remembers of a child between its starts. */
export interface RestartRecord {
  /** When each earlier restart happened (only those inside the intensity window are kept). */
  history: readonly number[];
  /** Restarts since the child was first started (shown in `ps`). */
  restarts: number;
}

export type Action =
  /** Start it again after `delayMs`; from then on its record is `next`. */
  | { action: 'restart'; delayMs: number; reason: string; next: RestartRecord }
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
 * Backoff doubles with each restart still inside the window (so a child that stayed up a whole
 * period starts again at the minimum); past `maxRestarts` within the window the child is a crash
 * loop and the supervisor gives up. While the instance shuts down, every exit is a requested one.
 * The restart is recorded at the time it is due (the exit plus the delay), and restarts that
 * are older than the window by then are forgotten.
 */
export function decide(restart: RestartType, record: RestartRecord, exit: ChildExit, k: Intensity, shuttingDown = false): Action {
  const how = describeExit(exit);
  if (exit.requested || shuttingDown) return { action: 'none', reason: `stopped on request (${how})` };
  if (exit.code === EXIT_PERMANENT) return { action: 'give-up', reason: `${how}: the child reported a permanent failure (exit ${EXIT_PERMANENT}), not restarting` };
  const clean = exit.code === 0 && exit.signal === null;
  if (restart === 'temporary') return { action: 'none', reason: `${how}; temporary child, not restarted` };
  if (restart === 'transient' && clean) return { action: 'none', reason: `${how}; transient child finished normally` };
  const recent = recentRestarts(record.history, exit.at, k.periodMs);
  if (recent >= k.maxRestarts) {
    return { action: 'give-up', reason: `${how}; crash loop: ${recent} restarts within ${Math.round(k.periodMs / 1000)} s (limit ${k.maxRestarts}), giving up` };
  }
  const delayMs = Math.min(k.backoffMaxMs, k.backoffMinMs * 2 ** recent);
  const due = exit.at + delayMs;
  const next = { history: [...record.history.filter((t) => due - t < k.periodMs), due], restarts: record.restarts + 1 };
  return { action: 'restart', delayMs, reason: `${how}; restart ${recent + 1}/${k.maxRestarts} in ${delayMs} ms`, next };
}
