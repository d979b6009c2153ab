// The proxy's routing policy on its own: least outstanding first, round robin among equals, a
// bounded queue, and only the current deployment gets work.
import t from 'tap';
import { Router, type Replica } from '../../src/runtime/proxy/router.js';

const replica = (pid: number, deployment = 1): Replica<string> => ({ link: `r${pid}`, pid, functionId: 1, deployment, replica: pid, domain: 0, outstanding: 0, draining: false });
const route = (deployment = 1, concurrency = 2) => ({ id: 1, name: 'f', deployment, timeoutMs: 1000, concurrency });

t.test('equal replicas take turns; a busier one is passed over', async (t) => {
  const router = new Router<number, string>(() => 1, 4);
  router.setRoutes([route(1, 4)]);
  const [a, b, c] = [replica(1), replica(2), replica(3)];
  for (const r of [a, b, c]) router.addReplica(r);
  const picks: number[] = [];
  for (let i = 0; i < 6; i++) {
    const d = router.dispatch(1, i);
    if (d.kind !== 'sent') throw new Error(d.kind);
    picks.push(d.replica.pid);
    d.replica.outstanding--; // answered at once: all stay equal
  }
  t.same(picks, [1, 2, 3, 1, 2, 3], 'round robin while all are idle');
  a.outstanding = 2;
  c.outstanding = 1;
  const d = router.dispatch(1, 99);
  t.equal(d.kind === 'sent' && d.replica.pid, 2, 'the least busy replica wins whatever the turn');
});

t.test('full replicas queue up to the limit, then refuse; a finished request pumps the queue', async (t) => {
  const router = new Router<number, string>(() => 1, 2);
  router.setRoutes([route(1, 1)]);
  const a = replica(1);
  router.addReplica(a);
  t.equal(router.dispatch(1, 1).kind, 'sent');
  t.equal(router.dispatch(1, 2).kind, 'queued');
  t.equal(router.dispatch(1, 3).kind, 'queued');
  t.equal(router.dispatch(1, 4).kind, 'full', 'the queue is bounded');
  a.outstanding--;
  const sent: number[] = [];
  router.pump(1, (p, r) => {
    sent.push(p);
    r.outstanding++;
  });
  t.same(sent, [2], 'the oldest queued request goes out, one per free slot');
});

t.test('only replicas of the current deployment get new work', async (t) => {
  const router = new Router<number, string>(() => 1, 4);
  router.setRoutes([route(1, 4)]);
  const old = replica(1, 1);
  router.addReplica(old);
  const fresh = replica(2, 2);
  router.addReplica(fresh);
  router.setRoutes([route(2, 4)]);
  for (let i = 0; i < 3; i++) {
    const d = router.dispatch(1, i);
    t.equal(d.kind === 'sent' && d.replica.pid, 2, `request ${i} goes to deployment 2`);
  }
  t.equal(router.dispatch(7, 1).kind, 'unknown');
});
