// A gateway dropped its link to a container that broke the link protocol (a forged or malformed
// frame, no hello in time), or saw the container close its link while it was being routed to.
// That gateway stopped routing to it at once, but the container still looks `ready` and holds its
// place: it is killed and the restart policy brings a fresh replica, with fresh links to every
// gateway. Every gateway may report the same container; it is logged and killed once.
import { logFileFor } from '../../common/paths.js';
import type { Child } from './child.js';
import type { Parts } from './parts.js';

/**
 * A closed link is also what a container that died leaves: its exit reaches the supervisor on its
 * own, soon after. Only a container still running this long after the report closed it on purpose.
 */
export const CLOSED_LINK_GRACE_MS = 2000;

/** The pid each container was last reported under (a restarted container is a new offender). */
const reported = new WeakMap<Child, number>();

export interface BadLinkReport {
  pid: unknown;
  reason: unknown;
  closed?: unknown;
}

export function replaceBadReplica(s: Parts & { later(fn: () => void, ms: number): void }, m: BadLinkReport, gateway: number): void {
  const pid = m.pid;
  if (typeof pid !== 'number') return;
  const why = `gateway ${gateway} dropped its link: ${String(m.reason).slice(0, 300)}`;
  if (m.closed === true) return s.later(() => replace(s, pid, why), CLOSED_LINK_GRACE_MS);
  replace(s, pid, why);
}

function replace(s: Parts, pid: number, why: string): void {
  const bad = s.containers.runningPid(pid);
  if (!bad || bad.stopping || reported.get(bad) === pid) return;
  reported.set(bad, pid);
  s.logs.write(logFileFor('container', bad.spec.functionId), `${bad.spec.id}[${bad.pid}]`, `BAD LINK, replacing it: ${why}`);
  bad.abort();
}
