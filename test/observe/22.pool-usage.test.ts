import t from 'tap';
import { PoolUsage } from '../../src/observe/snapshot-segments.js';
import { PKT_OWNER, PKT_WORDS } from '../../src/shm/constants.js';
import { Segment, isExhausted } from '../../src/shm/index.js';
import { InstanceView } from '../../src/observe/instance.js';
import { Observer } from '../../src/observe/snapshot.js';
import { tempSegment } from '../helpers/segments.js';

// `now` is PoolUsage's argument: the ages below are given, not waited for.
t.test('a live view rescans the classes whose counters moved at once, and every class within its age limit', async (t) => {
  const seg = tempSegment(t);
  const pools = new PoolUsage(1000);
  const classes = seg.layout.classes;
  const first = pools.of(seg, 0);
  t.equal(first.length, classes.length);
  t.ok(first.every((c) => c.inUse === 0), 'an empty pool');
  t.equal(pools.of(seg, 1), first, 'nothing moved: the same usage, rows and all');

  const small = seg.pool.alloc(100, process.pid);
  const big = seg.pool.alloc(50_000, process.pid);
  if (isExhausted(small) || isExhausted(big)) throw new Error('a fresh pool refused a packet');
  const second = pools.of(seg, 2);
  t.not(second, first, 'a class moved: another array');
  t.same(second.filter((c) => c.inUse).map((c) => [c.size, c.inUse, c.bytesInUse]), [[4096, 1, 100], [65536, 1, 50_000]], 'both claims seen on the next snapshot');
  t.equal(first[0].inUse, 0, 'the previous usage is left as it was');
  t.equal(second[5], first[5], 'a class that did not move is the one scanned before');

  seg.pool.free(small);
  t.equal(pools.of(seg, 3)[0].inUse, 0, 'a free is seen on the next snapshot');

  // A container of the domain can write its packet table without moving the counters: the owner
  // word of class 1's first packet, say. Its class is rescanned within the age limit, on its own
  // schedule (spread: class k first comes due k/n of the limit early).
  const c1 = classes[1];
  const word = seg.layout.packetOffset / 4 + c1.firstPacket * PKT_WORDS + PKT_OWNER;
  seg.i32[word] = 424242;
  t.equal(pools.of(seg, 500)[1].inUse, 0, 'not yet due: shown as last scanned');
  const due = 1000 - 1000 / classes.length;
  t.equal(pools.of(seg, Math.ceil(due) + 1)[1].inUse, 1, 'rescanned once its age passed the limit');
  seg.i32[word] = 0;
  seg.pool.free(big);
});

t.test('maxAgeMs 0 scans every class at every call', async (t) => {
  const seg = tempSegment(t);
  const pools = new PoolUsage(0);
  const a = pools.of(seg, 0);
  const d = seg.pool.alloc(100, process.pid);
  if (isExhausted(d)) throw new Error('a fresh pool refused a packet');
  t.equal(pools.of(seg, 0)[0].inUse, 1);
  t.equal(a[0].inUse, 0);
  seg.pool.free(d);
});

t.test('a live Observer sums the pools again only when a class changed', async (t) => {
  const seg = tempSegment(t);
  const view = InstanceView.single(Segment.open(seg.name, false));
  const obs = new Observer({ live: true });
  t.teardown(() => {
    obs.close();
    view.close();
  });
  const a = obs.snapshot(view, 'x');
  t.equal(obs.snapshot(view, 'x').pool, a.pool, 'nothing moved: the same sum');
  const d = seg.pool.alloc(100, process.pid);
  if (isExhausted(d)) throw new Error('a fresh pool refused a packet');
  const b = obs.snapshot(view, 'x');
  t.not(b.pool, a.pool);
  t.equal(b.pool[0].inUse, 1, 'the claim is in the sum');
  t.equal(a.pool[0].inUse, 0, 'the last sum is left as it was');
  seg.pool.free(d);
  t.equal(obs.snapshot(view, 'x').pool[0].inUse, 0);
});
