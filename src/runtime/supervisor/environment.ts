// What a container inherits of the supervisor's environment, which is the environment of the shell
// that ran `up`, with whatever secrets were exported there. A container gets only what it needs to
// run, the names its function passes through on purpose (functions[].passEnv), and, set on top by
// specs.ts, its function's own `env` and what faasflow tells it. Gateways are trusted and keep the
// whole environment.
import { ENV } from '../../common/env.js';

/** Taken from the supervisor's environment by every container: what Node and the C library need. */
const BASE = new Set(['PATH', 'HOME', 'LANG', 'TZ']);
/**
 * Taken by prefix: the locale's parts, and faasflow's own (the supervisor's settings; a test run's
 * marker, by which the test runner finds every process a run started).
 */
const PREFIXES = ['LC_', 'FAASFLOW_'];
/** faasflow's names for what one container is: the supervisor or the launcher sets them for each, or nobody. */
const PER_CONTAINER = new Set<string>([ENV.sandbox, ENV.spare, ENV.handlerIpc, ENV.nodeOptions, ENV.channelFd, ENV.linksFd]);

/** The supervisor's own, no container's business: where the instance's secrets and handlers are kept. */
const SUPERVISOR_ONLY = new Set<string>([ENV.stateDir]);

/** The part of `from` a container of a function with this `passEnv` inherits. */
export function inheritedEnv(from: NodeJS.ProcessEnv, passEnv: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined || PER_CONTAINER.has(name) || SUPERVISOR_ONLY.has(name)) continue;
    if (BASE.has(name) || PREFIXES.some((p) => name.startsWith(p))) out[name] = value;
  }
  for (const name of passEnv) {
    const value = from[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** All of `from` but faasflow's names for one container, for a trusted child (a gateway). */
export function wholeEnv(from: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) if (value !== undefined && !PER_CONTAINER.has(name)) out[name] = value;
  return out;
}
