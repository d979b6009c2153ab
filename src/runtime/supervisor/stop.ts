// The children's part of a stop: the gateways drain first (they stop taking requests and finish
// every one in flight, flows included, while the containers still serve them), then the
// containers stop. Each wait is what its work needs (config/stop.ts): a request or flow accepted
// before the stop runs to its own deadline whatever supervisor.shutdownTimeout says.
import { containerStopMs, describeBudget, stopBudget, type StopBudget } from '../../config/stop.js';
import type { Parts } from './parts.js';
import { KILL_AFTER_MS } from './specs.js';
import { killQuietly, procStat, sessionMembers } from '../../common/procs.js';

/** Deployed functions count with their own timeouts, not only the config's. */
function budgetOf(s: Parts, exitMs: number): StopBudget {
  return stopBudget({ ...s.cfg, functions: [...s.functions.values()] }, exitMs);
}

/** How long a stop of this instance may take now, and what it waits for (the state file and `down` say it). */
export function stopWait(s: Parts, exitMs = s.cfg.supervisor.shutdownTimeoutMs): { waitMs: number; message: string } {
  const budget = budgetOf(s, exitMs);
  return { waitMs: budget.totalMs + KILL_AFTER_MS, message: `draining: waiting for ${describeBudget(budget)}` };
}

/** `exitMs`: a process's time to exit once its work is done (`down --timeout`, else shutdownTimeout). */
export async function stopChildren(s: Parts, exitMs = s.cfg.supervisor.shutdownTimeoutMs): Promise<void> {
  const budget = budgetOf(s, exitMs);
  const running = s.containers.all().filter((c) => c.running).length;
  const { waitMs, message } = stopWait(s, exitMs);
  s.events.emit({ kind: 'stopping', waitMs, message, at: Date.now() });
  s.events.info(`${message} (${s.gateways.all().length} gateway(s), ${running} container(s))`);
  const gatewayMs = budget.gatewayMs + KILL_AFTER_MS;
  // The queue stops starting runs at once; those in flight finish as the gateways drain them.
  const queueGone = s.queue.stop(gatewayMs);
  // Spares have no work: they go at once.
  const sparesGone = s.spares.stop();
  const gatewaysGone = s.gateways.stop(gatewayMs);
  await Promise.race([Promise.all([gatewaysGone, queueGone]), new Promise((r) => setTimeout(r, gatewayMs))]);
  await Promise.all(
    s.containers.all().map((c) => {
      const timeoutMs = s.functions.get(c.spec.functionId)?.timeoutMs;
      return c.stop(timeoutMs === undefined ? undefined : Math.max(c.spec.shutdownMs, containerStopMs(timeoutMs, exitMs)));
    }),
  );
  await Promise.all([gatewaysGone, sparesGone]);
}

/**
 * Every child's group was killed when it exited; a process a handler started that made a group
 * of its own is still in this session. Only when this process leads its session (as `faasflow
 * up` starts it): otherwise the session is someone else's, a terminal's say.
 */
export function killSession(events: { info(message: string): void }): void {
  if (procStat(process.pid)?.session !== process.pid) return;
  const left = sessionMembers(process.pid).filter((pid) => pid !== process.pid && killQuietly(pid, 'SIGKILL'));
  if (left.length) events.info(`killed ${left.length} leftover process(es) in the supervisor's session: ${left.join(', ')}`);
}
