// A domain's packet memory is its budget in bytes: bodies of any size are served whenever the
// domain has that many bytes free, a burst larger than the domain waits for memory (counted as
// queued and as memory waits) and then succeeds, replies the size of their requests never wait on
// each other for ever (the reserve), and a body that can never fit is refused at once, naming the
// domain and the field to raise. Every packet goes back to its pool.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { FunctionStats, classRange, counters } from '../../src/shm/index.js';
import { json, post } from '../helpers/http.js';
import { startRuntime, until, type Runtime } from '../helpers/runtime.js';

const MiB = 1 << 20;
const HOLD = 'test/runtime/fixtures/hold-echo.ts';

/** Every packet of every domain is back, and so is every byte of their budgets. */
async function allBack(t: Test, rt: Runtime): Promise<void> {
  await until(() => rt.inUse() === 0, 15_000, 'every packet back in its pool');
  const m = rt.seg.pool.memory();
  t.equal(m.held, 0, 'nothing held');
  t.equal(rt.seg.pool.charged(), 0, 'the budget is whole again');
}

/** `n` random 5 MB bodies posted to `route` at once: every answer a 200 carrying its own bytes. */
async function burst(t: Test, rt: Runtime, n: number, route: string): Promise<void> {
  const bodies = Array.from({ length: n }, () => randomBytes(5_000_000));
  const rs = await Promise.all(bodies.map((b) => post(rt.port, route, b)));
  t.same(rs.map((r) => r.status), bodies.map(() => 200), 'all 200');
  t.ok(rs.every((r, i) => r.body.equals(bodies[i])), 'each answered with its own bytes');
}

t.test('a burst larger than its domain waits for memory, then every request succeeds byte for byte', async (t) => {
  // 64 MiB: requests may hold 48 MiB (16 MiB kept for replies): six 5 MB bodies (8 MiB packets) at once.
  const rt = await startRuntime(t, [{ id: 1, handler: HOLD, concurrency: 16 }], { segmentSize: 64 * MiB, segmentWaitMs: 20_000 });
  await burst(t, rt, 12, '/function/1?ms=200');
  const fs = new FunctionStats(rt.runtime);
  t.ok(fs.get(1, counters.FN_MEM_WAITS) >= 1, `${fs.get(1, counters.FN_MEM_WAITS)} of them waited for memory`);
  t.equal(fs.get(1, counters.FN_MEM_REFUSED), 0, 'none refused');
  t.match(rt.seg.pool.memory(), { waits: fs.get(1, counters.FN_MEM_WAITS), refusals: 0 }, 'the domain counts the same waits');
  t.equal(fs.get(1, counters.FN_QUEUED), 0, 'nobody queued any more');
  await allBack(t, rt);
});

t.test('replies the size of their requests, written into ctx.output, in a domain the requests fill: all answered', async (t) => {
  // Requests take what they may (six 8 MiB packets); replies of the same size come from the reserve
  // and from what finished requests give back, waiting in the containers meanwhile.
  const rt = await startRuntime(t, [{ id: 1, handler: HOLD, concurrency: 16 }], { segmentSize: 64 * MiB, segmentWaitMs: 20_000 });
  await burst(t, rt, 10, '/function/1?ms=100&out=1');
  t.ok(rt.seg.pool.memory().waits >= 1, `${rt.seg.pool.memory().waits} allocation(s) waited (requests in the gateway, replies in the container)`);
  await allBack(t, rt);
});

t.test('a body that can never fit its domain is refused at once, naming the domain, the size and segment.size', async (t) => {
  // Classes up to 64 MiB in a 96 MiB domain: the reserve for replies is the largest class, so a
  // request may hold 32 MiB, and a 40 MB body needs a 64 MiB packet.
  const rt = await startRuntime(t, [{ id: 1, handler: HOLD }], { segmentSize: 96 * MiB, classes: classRange(4096, 64 * MiB) });
  const r = await post(rt.port, '/function/1', Buffer.alloc(40_000_000, 1));
  t.equal(r.status, 413);
  t.match(json(r).error, /^a body of 40000000 bytes needs 64\.0 MiB of domain fn1's packet memory, more than a request may ever take there \(32\.0 MiB: its 96\.0 MiB budget less 64\.0 MiB kept for replies\): raise segment\.size \(96\.0 MiB, split over the domains\)$/);
  const fs = new FunctionStats(rt.runtime);
  t.equal(fs.get(1, counters.FN_MEM_REFUSED), 1, 'counted as refused for memory');
  t.equal(fs.get(1, counters.FN_MEM_WAITS), 0, 'without waiting');
  const ok = randomBytes(20_000_000);
  const fits = await post(rt.port, '/function/1', ok);
  t.equal(fits.status, 200, 'a body that fits what requests may hold is served');
  t.ok(fits.body.equals(ok));
  await allBack(t, rt);
});

t.test('a 1 MiB body takes a 1 MiB packet and a small one for its metadata, not a 2 MiB packet', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: HOLD }], { segmentSize: 64 * MiB });
  const body = randomBytes(MiB);
  const pending = post(rt.port, '/function/1?ms=1500', body);
  await until(() => rt.seg.pool.memory().held > 0, 10_000, 'the request to be held');
  const held = rt.seg.pool.usage().filter((c) => c.inUse).map((c) => [c.size, c.inUse]);
  t.same(held, [[4096, 1], [MiB, 1]], 'one 1 MiB packet for the body, one 4 KiB packet for its metadata');
  const r = await pending;
  t.equal(r.status, 200);
  t.ok(r.body.equals(body));
  await allBack(t, rt);
});
