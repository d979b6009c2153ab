// What GET /healthz (readiness) and GET /livez (liveness) answer. Readiness: this gateway can serve
// every function, each has at least one ready replica linked to it; until then (containers
// starting, a replica being restarted, a function given up after a crash loop) 503, naming each
// function that cannot serve and why, so a balancer, a Kubernetes readiness or startup probe and
// `faasflow up` see what is missing; a function that scales to zero is ready with none (its
// requests wait in the queue while the supervisor starts one). Liveness: the process answers at
// all; a drain or a missing replica is no reason to restart it.
import type { Route } from '../protocol.js';

export interface ReadinessView {
  routes(): readonly Route[];
  readyReplicas(id: number): number;
  queued(id: number): number;
}

export interface NotReady {
  id: number;
  name: string;
  reason: string;
}

/** Each function without a ready replica, with the reason. */
export function notReady(v: ReadinessView): NotReady[] {
  return v
    .routes()
    .filter((r) => v.readyReplicas(r.id) === 0 && !(r.scalesToZero && !r.unavailable))
    .map((r) => ({ id: r.id, name: r.name, reason: r.unavailable ? `given up: ${r.unavailable}` : 'no ready replica yet: its containers are starting or being restarted' }));
}

/** The /healthz document: 200 once every function has a ready replica and no stop has begun. */
export function readiness(v: ReadinessView, stopping: boolean, extra: Record<string, unknown>): { ok: boolean; body: Record<string, unknown> } {
  const missing = notReady(v);
  const ok = !stopping && missing.length === 0;
  return {
    ok,
    body: {
      status: stopping ? 'draining' : ok ? 'ok' : 'not ready',
      ...extra,
      ...(missing.length ? { notReady: missing } : {}),
      functions: v.routes().map((r) => ({ id: r.id, name: r.name, deployment: r.deployment, replicas: v.readyReplicas(r.id), queued: v.queued(r.id) })),
    },
  };
}
