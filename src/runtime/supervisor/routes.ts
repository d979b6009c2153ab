// The routing table the supervisor gives every gateway: each function's serving version, its
// domain, whether any replica of it is left, and whether it may have none (it scales to zero).
import type { Route } from '../protocol.js';
import type { Parts } from './parts.js';

export function routesOf(s: Parts): Route[] {
  return [...s.functions.values()].map((f) => {
    const replicas = s.containers.of(f.id, f.deployment);
    const down = replicas.length > 0 && replicas.every((c) => c.state === 'failed');
    const route: Route = { id: f.id, name: f.name, deployment: f.deployment, timeoutMs: f.timeoutMs, concurrency: f.concurrency, domain: s.domains.byName(f.domain)?.index ?? -1 };
    if (f.scale?.min === 0) route.scalesToZero = true;
    if (down) route.unavailable = `every replica of function ${f.id} (${f.name}) crashed repeatedly and was given up: see \`faasflow logs --id ${f.id}\`, fix the handler and \`faasflow deploy\` it again`;
    return route;
  });
}
