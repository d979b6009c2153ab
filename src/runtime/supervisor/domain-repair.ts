// A container can write its own domain's segment (not another's), so it can damage that
// segment's header. Checked every second; a damaged domain is rebuilt alone: its containers are
// stopped, the segment is made anew, the gateways map the new one (failing the requests they had
// in the old one with 502) and fresh containers start. Nothing of the other domains is touched.
import type { Parts } from './parts.js';
import { trimSegment } from './domain-trim.js';

export function checkDomains(s: Parts): void {
  if (s.phase !== 'running' || s.stopping) return;
  for (const d of s.domains.all()) {
    const why = s.domains.damage(d);
    if (why === undefined) {
      // A segment that holds more pages than its budget and tables gives the free ones back.
      trimSegment(d.segment);
      continue;
    }
    s.events.info(`domain ${d.name}: its segment ${d.segment.name} is damaged (${why}); rebuilding the domain`);
    void rebuildDomain(s, d.name);
  }
}

export function rebuildDomain(s: Parts, name: string): Promise<void> {
  return s.serially(async () => {
    const d = s.domains.byName(name);
    if (!d || s.stopping) return;
    const members = s.containers.inDomain(name);
    const again = members.filter((c) => c.running || c.state === 'crashed').map((c) => ({ f: s.containers.functionOf(c)!, replica: c.spec.replica, restarts: c.restarts + 1 }));
    await Promise.all(members.map((c) => c.kill()));
    s.containers.drop(members);
    s.domains.rebuild(d);
    await s.pushRoutes().catch((err: Error) => s.events.info(`domain ${name}: ${err.message}`));
    for (const a of again) s.containers.start(a.f, a.replica, a.restarts);
    s.events.info(`domain ${name}: rebuilt with a fresh segment; ${again.length} container(s) restarted`);
    s.writeState();
  });
}
