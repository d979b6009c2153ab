// How long a stop may take, in one place: the gateways' and containers' own timers, the
// supervisor's SIGKILLs, `down`'s wait and the exports' grace periods are all computed here, so
// none of them cuts a request another one promised to finish. A stop finishes what it accepted:
// every request and flow in flight runs to its own deadline (a function's timeout, a flow's), and
// supervisor.shutdownTimeout is only the time a process gets to exit after that.
//
// The gateway imports this module, so it imports no package: zod (through the config schema) in
// the gateway took its GC from 5 % to 21 % of its CPU and its 100 KiB throughput from ~20 k to
// ~12 k req/s. test/code/20.process-imports.test.ts keeps packages out of the request path.
import type { FlowConfig, ResolvedConfig } from './types.js';

/**
 * Past a request's deadline: the gateway answers 504 up to 2 s after a function's timeout (its
 * backstop for a handler that blocks its event loop), then the reply is written out.
 */
export const DEADLINE_SLACK_MS = 3000;

export interface StopBudget {
  /** gateway.drainDelay: serving with /healthz at 503 before the listener closes. */
  drainDelayMs: number;
  /** The longest function timeout or flow timeout (flows.ts longestRequestMs). */
  longestRequestMs: number;
  /** supervisor.shutdownTimeout (or `down --timeout`): a process's time to exit once its work is done. */
  exitMs: number;
  /** A gateway's whole drain: the delay, the longest request to its deadline, the exit. */
  gatewayMs: number;
  /** The longest a container may take once asked to stop: its function's timeout, then the exit. */
  containerMs: number;
  /** The whole stop: gateways drained, then containers stopped. */
  totalMs: number;
}

type StopConfig = Pick<ResolvedConfig, 'flows'> & { functions: readonly { id: number; timeoutMs: number }[]; gateway: Pick<ResolvedConfig['gateway'], 'drainDelayMs'>; supervisor: Pick<ResolvedConfig['supervisor'], 'shutdownTimeoutMs'> };

/** A container of a function with this timeout: its in-flight requests end by then, then it exits. */
export function containerStopMs(timeoutMs: number, exitMs: number): number {
  return timeoutMs + DEADLINE_SLACK_MS + exitMs;
}

export function stopBudget(cfg: StopConfig, exitMs = cfg.supervisor.shutdownTimeoutMs): StopBudget {
  const longest = longestRequestMs(cfg);
  const drainDelayMs = cfg.gateway.drainDelayMs;
  const gatewayMs = drainDelayMs + longest + DEADLINE_SLACK_MS + exitMs;
  const containerMs = containerStopMs(Math.max(0, ...cfg.functions.map((f) => f.timeoutMs)), exitMs);
  return { drainDelayMs, longestRequestMs: longest, exitMs, gatewayMs, containerMs, totalMs: gatewayMs + containerMs };
}

/** What a stop waits for, in words (`down` and the supervisor's log say it). */
export function describeBudget(b: StopBudget): string {
  const s = (ms: number) => `${Math.round(ms / 100) / 10} s`;
  const delay = b.drainDelayMs > 0 ? `${s(b.drainDelayMs)} of drain delay, then ` : '';
  return `${delay}requests in flight up to the longest function or flow timeout (${s(b.longestRequestMs)}), then ${s(b.exitMs)} for each process to exit: at most ${s(b.totalMs)}`;
}

/**
 * The longest a request may take inside an instance: a function's timeout, or a whole flow's (its
 * own, else the sum of its steps', a parallel group counting as its slowest branch). What a stop
 * must wait for, and what a balancer's server timeout must exceed.
 */
export function longestRequestMs(cfg: { functions: readonly { id: number; timeoutMs: number }[]; flows: readonly FlowConfig[] }): number {
  const fn = new Map(cfg.functions.map((f) => [f.id, f.timeoutMs]));
  const flows = cfg.flows.map(
    (f) => f.timeoutMs ?? f.steps.reduce((a, s) => a + Math.max(...(s.kind === 'call' ? [s.call] : s.branches).map((c) => c.timeoutMs ?? fn.get(c.functionId) ?? 0)), 0),
  );
  return Math.max(0, ...cfg.functions.map((f) => f.timeoutMs), ...flows);
}
