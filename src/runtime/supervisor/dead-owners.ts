// The periodic sweep for packets whose owner died unseen: a process a handler started, or a pid a
// container wrote into its own domain's packet table. A child of this supervisor is not one of
// them while its exit is still to be handled: from its death (a zombie already counts as dead)
// until its output pipes close (up to a grace, when a process it started holds them) it is dead
// to pidAlive, yet its exit's one log line (wiring.ts) is still to say what was reclaimed. A sweep
// in that window took its packets and told them only in the bounded domain summary, so the exit
// line said nothing was reclaimed: each dead child's packets are reclaimed by exactly one party,
// its exit handler, and told in its exit's line.
import { pidAlive } from '../../shm/index.js';
import type { Child } from './child.js';
import type { Domain } from './domains.js';
import type { ReclaimReport } from './reclaim-report.js';

/** Reclaims the packets of dead owners other than `children` whose exit is pending; returns the lines due in the log. */
export function sweepDeadOwners(domains: readonly Pick<Domain, 'name' | 'segment'>[], children: readonly Pick<Child, 'pid' | 'running'>[], report: ReclaimReport, now = Date.now()): string[] {
  // `running` holds from spawn until the exit handler has run (child.ts clears it just before).
  const pending = new Set(children.filter((c) => c.running && c.pid > 0).map((c) => c.pid));
  const alive = (pid: number) => pending.has(pid) || pidAlive(pid);
  for (const d of domains) if (!d.segment.isClosed) report.add(d.name, d.segment.pool.reclaimDead(alive));
  return report.lines(now);
}
