// The restart policy as a table: each row is one exit of one child with its restart record, and
// the decision the policy must make, with everything the child carries into its next start.
import t from 'tap';
import { decide, recentRestarts, type Action, type ChildExit, type RestartRecord } from '../../src/runtime/supervisor/policy.js';
import type { Intensity, RestartType } from '../../src/runtime/supervisor/spec.js';

const k: Intensity = { maxRestarts: 3, periodMs: 10_000, backoffMinMs: 100, backoffMaxMs: 1000 };
const NOW = 100_000;
const crash = (o: Partial<ChildExit> = {}): ChildExit => ({ code: 1, signal: null, requested: false, at: NOW, ...o });
const fresh: RestartRecord = { history: [], restarts: 0 };

interface Case {
  name: string;
  restart?: RestartType;
  record?: RestartRecord;
  exit?: Partial<ChildExit>;
  k?: Partial<Intensity>;
  shuttingDown?: boolean;
  /** The decision, and for a restart its delay and the record the next start gets. */
  want: { action: Action['action']; delayMs?: number; next?: RestartRecord; reason?: RegExp };
}

const cases: Case[] = [
  { name: 'a requested stop of a permanent child', exit: { requested: true, signal: 'SIGKILL', code: null }, want: { action: 'none', reason: /stopped on request \(killed by SIGKILL\)/ } },
  { name: 'a requested stop of a transient child', restart: 'transient', exit: { requested: true }, want: { action: 'none' } },
  { name: 'a requested stop of a temporary child', restart: 'temporary', exit: { requested: true }, want: { action: 'none' } },
  { name: 'a crash while the instance shuts down counts as requested', shuttingDown: true, want: { action: 'none', reason: /stopped on request/ } },
  { name: 'exit 100 is a permanent failure: give up with no restarts yet', exit: { code: 100 }, want: { action: 'give-up', reason: /permanent failure \(exit 100\)/ } },
  { name: 'exit 100 wins over the restart type', restart: 'transient', exit: { code: 100 }, want: { action: 'give-up' } },
  { name: 'permanent: a clean exit is restarted', exit: { code: 0 }, want: { action: 'restart', delayMs: 100, next: { history: [NOW + 100], restarts: 1 } } },
  { name: 'transient: a clean exit is not restarted', restart: 'transient', exit: { code: 0 }, want: { action: 'none', reason: /transient child finished normally/ } },
  { name: 'transient: exit 1 is restarted', restart: 'transient', want: { action: 'restart', delayMs: 100 } },
  { name: 'transient: a signal is restarted', restart: 'transient', exit: { code: null, signal: 'SIGSEGV' }, want: { action: 'restart', reason: /killed by SIGSEGV; restart 1\/3 in 100 ms/ } },
  { name: 'temporary: never restarted', restart: 'temporary', want: { action: 'none', reason: /temporary child/ } },
  { name: 'a ready timeout is said instead of the signal', exit: { code: null, signal: 'SIGKILL', cause: 'not ready 30 s after start' }, want: { action: 'restart', reason: /^not ready 30 s after start, killed; restart 1\/3/ } },
  { name: 'second restart in the window: backoff doubles', record: { history: [NOW - 1], restarts: 1 }, want: { action: 'restart', delayMs: 200, next: { history: [NOW - 1, NOW + 200], restarts: 2 } } },
  { name: 'third restart in the window: backoff doubles again', record: { history: [NOW - 2, NOW - 1], restarts: 2 }, want: { action: 'restart', delayMs: 400 } },
  { name: 'backoff is capped at backoffMax', record: { history: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => NOW - i), restarts: 8 }, k: { maxRestarts: 100 }, want: { action: 'restart', delayMs: 1000 } },
  { name: 'maxRestarts within the period: a crash loop, given up', record: { history: [NOW - 3000, NOW - 2000, NOW - 1000], restarts: 3 }, want: { action: 'give-up', reason: /crash loop: 3 restarts within 10 s \(limit 3\), giving up/ } },
  {
    name: 'restarts older than the period age out of the backoff and of the record',
    record: { history: [NOW - 30_000, NOW - 20_000, NOW - 1000], restarts: 7 },
    want: { action: 'restart', delayMs: 200, next: { history: [NOW - 1000, NOW + 200], restarts: 8 } },
  },
  {
    name: 'a restart that falls out of the window by the time the next one is due is forgotten',
    record: { history: [NOW - 9950], restarts: 1 },
    want: { action: 'restart', delayMs: 200, next: { history: [NOW + 200], restarts: 2 } },
  },
  { name: 'maxRestarts 0: the first crash gives up', k: { maxRestarts: 0 }, want: { action: 'give-up' } },
  { name: 'the restart count keeps growing across windows', record: { history: [], restarts: 41 }, want: { action: 'restart', delayMs: 100, next: { history: [NOW + 100], restarts: 42 } } },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const a = decide(c.restart ?? 'permanent', c.record ?? fresh, crash(c.exit), { ...k, ...c.k }, c.shuttingDown ?? false);
    t.equal(a.action, c.want.action);
    if (c.want.reason) t.match(a.reason, c.want.reason);
    if (a.action === 'restart') {
      if (c.want.delayMs !== undefined) t.equal(a.delayMs, c.want.delayMs, 'delay');
      if (c.want.next) t.same(a.next, c.want.next, 'the record of the next start');
    }
  });
}

t.test('the record passed in is not changed', async (t) => {
  const record = { history: Object.freeze([NOW - 1]), restarts: 1 };
  decide('permanent', record, crash(), k);
  t.same(record, { history: [NOW - 1], restarts: 1 });
});

t.test('recentRestarts counts only restarts inside the window', async (t) => {
  t.equal(recentRestarts([NOW - 30_000, NOW - 20_000, NOW - 1000], NOW, k.periodMs), 1);
  t.equal(recentRestarts([], NOW, k.periodMs), 0);
  t.equal(recentRestarts([NOW - 10_000], NOW, k.periodMs), 0, 'exactly one period ago is outside');
});
