// How long a stopping instance must keep serving, and how long it may take, for whatever sends it
// traffic to notice before its listener closes. A stop (SIGTERM, `faasflow down`) first answers
// GET /healthz with 503 for gateway.drainDelay while still serving, then closes the listener and
// finishes what it accepted. Requests that arrive after the close are refused (connection
// failures, which a balancer may retry safely); requests accepted before it all finish.
import { longestRequestMs } from '../config/flows.js';
import type { ResolvedConfig } from '../config/types.js';

/** Health checks as a balancer runs them: every `interMs`, `fall` failures mark a server down, `rise` successes up. */
export interface HealthCheck {
  interMs: number;
  fall: number;
  rise: number;
}

/**
 * The drain delay a balancer with these checks needs: it can take fall × inter to see the 503s,
 * plus one more interval for the check already in flight when the drain began.
 */
export function drainDelayFor(c: HealthCheck): number {
  return (c.fall + 1) * c.interMs;
}

/**
 * Kubernetes: when a pod is deleted, the endpoint controller drops it from the Service at once
 * (readiness is not what removes it), but every node's kube-proxy and any ingress learn of it a
 * few seconds later. The readiness probe covers a drain begun from inside the pod.
 */
export const K8S_READINESS: HealthCheck = { interMs: 2000, fall: 1, rise: 1 };
/** Time for an endpoint change to reach every kube-proxy and ingress in a busy cluster. */
export const K8S_PROPAGATION_MS = 5000;

export interface PodTiming {
  /** gateway.drainDelay for the pod: the config's, raised to what the cluster needs. */
  drainDelayMs: number;
  /** Whether the config's own value was raised (said in the exported config's comments). */
  raised: boolean;
  /** terminationGracePeriodSeconds: the drain, the longest request, the containers' stop, a margin. */
  graceSeconds: number;
}

/**
 * The longest a stop of `cfg` can take after the drain delay: in-flight requests (the longest
 * function or flow: a flow accepted just before the stop runs to its own deadline), then the
 * containers' stop (each gets at least its function's timeout + 1 s, else shutdownTimeout).
 */
export function stopBudgetMs(cfg: ResolvedConfig): number {
  const longestFunction = Math.max(0, ...cfg.functions.map((f) => f.timeoutMs));
  return longestRequestMs(cfg) + Math.max(cfg.supervisor.shutdownTimeoutMs, longestFunction + 1000);
}

/** Drain and grace for a pod running `cfg`; 5 s of margin for the supervisor's own cleanup. */
export function podTiming(cfg: ResolvedConfig): PodTiming {
  const need = Math.max(drainDelayFor(K8S_READINESS), K8S_PROPAGATION_MS);
  const drainDelayMs = Math.max(cfg.gateway.drainDelayMs, need);
  return { drainDelayMs, raised: drainDelayMs > cfg.gateway.drainDelayMs, graceSeconds: Math.ceil((drainDelayMs + stopBudgetMs(cfg) + 5000) / 1000) };
}
