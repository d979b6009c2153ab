import t, { type Test } from 'tap';
import { isExhausted, pidAlive, type Descriptor, type Segment } from '../../src/shm/index.js';
import { tempSegment } from '../helpers/segments.js';
import { forkFixture, requireBuiltShm } from './fixtures/helpers.js';

interface Stopped {
  type: 'stopped';
  ops: number;
  exhausted: number;
  freed: number;
  errors: string[];
}

const CLASSES = [{ size: 256, count: 256 }, { size: 4096, count: 256 }, { size: 65536, count: 64 }];
const seedOf = () => Math.floor(Math.random() * 2 ** 31);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * After a reclaim the pool is whole again: allocating until exhausted yields every packet of every
 * class (small requests fall back class by class), exactly packetCount distinct packets, then
 * nothing; all of them free again.
 */
function allocateEverything(t: Test, seg: Segment) {
  const got: Descriptor[] = [];
  for (let i = 0; i <= seg.layout.packetCount; i++) {
    const d = seg.pool.alloc(1);
    if (isExhausted(d)) break;
    got.push(d);
  }
  t.equal(got.length, seg.layout.packetCount, `all ${seg.layout.packetCount} packets allocate again`);
  t.equal(new Set(got.map((d) => d.index)).size, got.length, 'each one a different packet');
  for (const c of seg.pool.classes) t.equal(got.filter((d) => d.capacity === c.size).length, c.count, `class ${c.size}: all ${c.count} packets`);
  for (const c of seg.pool.classes) t.same(seg.pool.alloc(c.size), { exhausted: true, reason: 'exhausted', length: c.size }, `then class ${c.size} is exhausted`);
  t.same(seg.pool.usage().map((u) => u.free), seg.pool.classes.map(() => 0));
  for (const d of got) seg.pool.free(d);
  t.equal(seg.pool.inUse(), 0);
}

t.test('children SIGKILLed mid alloc/free: reclaim(pid) frees exactly what each held, nothing of a live neighbour', async (t) => {
  requireBuiltShm();
  const seg = tempSegment(t, { size: 16 << 20, classes: CLASSES });
  const survivor = forkFixture(t, 'churn-worker.mjs', [seg.name, String(seedOf())]);
  const victims = [0, 1, 2].map(() => forkFixture(t, 'churn-worker.mjs', [seg.name, String(seedOf())]));
  await Promise.all([survivor, ...victims].map((w) => w.next<{ type: string }>((m) => m.type === 'running')));

  // One at a time, while the others keep allocating and freeing around it; the victim loops flat
  // out for 20–170 ms first, so the kill lands wherever it happens to be.
  for (const [round, victim] of victims.entries()) {
    victim.child.send({ type: 'spin' });
    await sleep(20 + Math.floor(Math.random() * 150));
    victim.child.kill('SIGKILL');
    t.equal(await victim.exited, 'SIGKILL', `victim ${round} (pid ${victim.pid}) killed`);
    const heldByVictim = seg.pool.held().filter((p) => p.owner === victim.pid).length;
    t.ok(heldByVictim >= 10, `victim ${round} died holding ${heldByVictim} packets`);
    t.equal(seg.pool.reclaim(victim.pid), heldByVictim, `victim ${round}: reclaim frees exactly those`);
    t.equal(seg.pool.held().filter((p) => p.owner === victim.pid).length, 0);
    t.equal(seg.pool.reclaim(victim.pid), 0, 'a second reclaim finds nothing');
  }

  survivor.child.send({ type: 'stop' });
  const res = await survivor.next<Stopped>((m) => m.type === 'stopped');
  t.equal(await survivor.exited, 0);
  t.same(res.errors, [], `the survivor's ${res.freed} packets were untouched: owner words and stamps intact`);
  t.ok(res.ops > 10_000, `the survivor did ${res.ops} alloc/free operations (${res.exhausted} on a full pool)`);

  t.equal(seg.pool.inUse(), 0, 'the pool is back to exactly 0 in use');
  // A victim killed between its claim and its charge leaves the counter one packet low after the
  // reclaim (never high: the budget cannot leak away). At most one such packet per kill.
  const charged = seg.i32[seg.layout.poolWord] * 256;
  t.ok(charged <= 0 && charged >= -victims.length * 65536, `the budget's charge is back to 0 or a little low (${charged} B), never high`);
  for (const u of seg.pool.usage()) {
    t.equal(u.inUse, 0, `class ${u.size}: 0 in use`);
    t.equal(u.free, u.count);
    t.ok(u.highWater <= u.count, `class ${u.size}: high-water ${u.highWater} ≤ ${u.count}`);
  }
  allocateEverything(t, seg);
});

t.test('reclaimDead frees the packets of every dead owner and keeps the living', async (t) => {
  requireBuiltShm();
  const seg = tempSegment(t, { size: 16 << 20, classes: CLASSES });
  const mine = seg.pool.alloc(100);
  if (isExhausted(mine)) throw new Error('exhausted');
  const victims = [0, 1].map(() => forkFixture(t, 'churn-worker.mjs', [seg.name, String(seedOf())]));
  await Promise.all(victims.map((v) => v.next<{ type: string }>((m) => m.type === 'running')));
  for (const v of victims) v.child.send({ type: 'spin' });
  await sleep(50);
  for (const v of victims) v.child.kill('SIGKILL');
  await Promise.all(victims.map((v) => v.exited));

  const before = new Map(victims.map((v) => [v.pid, seg.pool.held().filter((p) => p.owner === v.pid).length]));
  const freed = seg.pool.reclaimDead(pidAlive);
  t.same(new Map([...freed].filter(([pid]) => before.has(pid))), before, 'each dead pid: exactly the packets it held');
  t.notOk(freed.has(process.pid), 'a living owner is not reclaimed');
  t.equal(seg.pool.inUse(), 1, 'only our own packet is left');
  t.equal(seg.pool.owner(mine), process.pid);
  seg.pool.free(mine);
  t.equal(seg.pool.inUse(), 0);
  allocateEverything(t, seg);
});
