import t from 'tap';
import { Segment, isExhausted, type Descriptor, type Exhausted } from '../../src/shm/index.js';
import { tempSegment } from '../helpers/segments.js';

const CLASSES = [{ size: 256, count: 40 }, { size: 4096, count: 8 }, { size: 65536, count: 2 }];

function must(r: Descriptor | Exhausted): Descriptor {
  if (isExhausted(r)) throw new Error(`unexpected ${r.reason} for ${r.length} bytes`);
  return r;
}

t.test('a length goes to the smallest class that holds it', async (t) => {
  const seg = tempSegment(t, { size: 4 << 20, classes: CLASSES });
  const pool = seg.pool;
  t.equal(pool.maxPacket, 65536);
  const cases: Array<[number, number]> = [[0, 256], [1, 256], [256, 256], [257, 4096], [4096, 4096], [4097, 65536], [65536, 65536]];
  for (const [length, capacity] of cases) {
    const d = must(pool.alloc(length));
    t.equal(d.capacity, capacity, `${length} B → ${capacity} B packet`);
    t.equal(pool.owner(d), process.pid);
    pool.free(d);
  }
  t.same(pool.alloc(65537), { exhausted: true, reason: 'too-large', length: 65537 }, 'beyond the largest class: too-large');
  t.same(pool.alloc(1 << 30), { exhausted: true, reason: 'too-large', length: 1 << 30 });
  t.equal(pool.inUse(), 0, 'a too-large request allocates nothing');
});

t.test('a full class falls back to larger ones, then the pool says exhausted; usage() counts it all', async (t) => {
  const seg = tempSegment(t, { size: 4 << 20, classes: CLASSES });
  const pool = seg.pool;
  const small: Descriptor[] = [];
  for (let i = 0; i < 40; i++) small.push(must(pool.alloc(100)));
  t.ok(small.every((d) => d.capacity === 256), '40 small packets from the 256 B class');
  t.equal(new Set(small.map((d) => d.index)).size, 40, 'all different packets');
  const spilled: Descriptor[] = [];
  for (let i = 0; i < 10; i++) spilled.push(must(pool.alloc(100)));
  t.same(spilled.map((d) => d.capacity), [...Array(8).fill(4096), 65536, 65536], 'then the 4 KiB class, then the 64 KiB class');
  const none = pool.alloc(100);
  t.same(none, { exhausted: true, reason: 'exhausted', length: 100 }, 'then a typed exhausted result, not a throw');
  t.same(pool.alloc(5000), { exhausted: true, reason: 'exhausted', length: 5000 });

  let u = pool.usage();
  t.same(u.map((c) => [c.size, c.count, c.inUse, c.free, c.highWater]), [[256, 40, 40, 0, 40], [4096, 8, 8, 0, 8], [65536, 2, 2, 0, 2]]);
  t.same(u.map((c) => c.bytesInUse), [4000, 800, 200], 'bytes in use are the requested lengths');
  t.equal(pool.inUse(), 50);

  for (const d of small.slice(0, 30)) pool.free(d);
  pool.free(spilled[9]);
  u = pool.usage();
  t.same(u.map((c) => [c.inUse, c.free, c.highWater]), [[10, 30, 40], [8, 0, 8], [1, 1, 2]], 'high-water marks stay at the peak after frees');
  t.equal(pool.inUse(), 19);

  const again = must(pool.alloc(200));
  t.equal(again.capacity, 256, 'a freed small packet is the first choice again');
  for (const d of [...small.slice(30), ...spilled.slice(0, 9), again]) pool.free(d);
  t.equal(pool.inUse(), 0);
  t.same(pool.usage().map((c) => [c.inUse, c.free, c.highWater]), [[0, 40, 40], [0, 8, 8], [0, 2, 2]]);
});

t.test('packets never overlap: filling each one completely leaves its neighbours intact', async (t) => {
  const seg = tempSegment(t, { size: 4 << 20, classes: CLASSES });
  const pool = seg.pool;
  const all: Descriptor[] = [];
  for (;;) {
    const d = pool.alloc(1);
    if (isExhausted(d)) break;
    all.push(d);
  }
  t.equal(all.length, 50);
  all.forEach((d, i) => pool.view(d).fill(i + 1));
  const reader = Segment.open(seg.name, false);
  t.teardown(() => reader.close());
  t.ok(all.every((d, i) => reader.pool.view(d).every((b) => b === i + 1)), 'every byte of every packet is its own, seen through a second mapping');
  const ranges = all.map((d) => [d.offset, d.offset + d.capacity]).sort((a, b) => a[0] - b[0]);
  t.ok(ranges.every((r, i) => i === 0 || r[0] >= ranges[i - 1][1]), 'offsets do not overlap');
  t.ok(ranges.every(([s]) => s >= seg.layout.metaEnd && s + 0 <= seg.layout.size), 'every packet lies in the data arena');
  for (const d of all) pool.free(d);
});

t.test('generations: a descriptor dies with its packet', async (t) => {
  const seg = tempSegment(t, { size: 4 << 20, classes: CLASSES });
  const pool = seg.pool;
  const a = must(pool.alloc(10));
  t.ok(a.generation !== 0, 'an all-zero descriptor never names a live packet');
  t.same(pool.describe(a.index, a.generation), a, 'describe rebuilds the same descriptor from index and generation');
  pool.free(a);
  const b = must(pool.alloc(10));
  t.equal(b.index, a.index, 'the same packet is reused');
  t.not(b.generation, a.generation, 'with a new generation');
  t.throws(() => pool.describe(a.index, a.generation), { code: 'ESTALE' });
  t.throws(() => pool.free(a), { code: 'ESTALE' }, 'the old descriptor cannot free the new owner’s packet');
  t.equal(pool.owner(b), process.pid, 'which still belongs to its owner');
  pool.free(b);
});

t.test('transfer, label and held describe who holds what', async (t) => {
  const seg = tempSegment(t, { size: 4 << 20, classes: CLASSES });
  const pool = seg.pool;
  const d = must(pool.alloc(300));
  pool.label(d, 7, 0xfffffff0, 123, 17);
  pool.transfer(d, 4242);
  t.equal(pool.owner(d), 4242);
  const [info] = pool.held();
  t.match(info, { index: d.index, classSize: 4096, owner: 4242, generation: d.generation, length: 123, functionId: 7, requestId: 0xfffffff0 });
  t.ok(info.ageMs >= 0 && info.ageMs < 60_000, `age ${info.ageMs} ms`);
  t.equal(pool.reclaim(4242), 1, 'reclaim frees a transferred packet under its new owner');
  t.throws(() => pool.transfer(d, 1), { code: 'ESTALE' }, 'a reclaimed packet cannot be transferred');
  t.equal(pool.inUse(), 0);
});

t.test('a read-only mapping can look but not allocate', async (t) => {
  const seg = tempSegment(t, { size: 4 << 20, classes: CLASSES });
  const d = must(seg.pool.alloc(10));
  const ro = Segment.open(seg.name, false);
  t.teardown(() => ro.close());
  t.equal(ro.pool.inUse(), 1);
  t.throws(() => ro.pool.alloc(10), { code: 'EACCES', message: /read-only/ });
  t.throws(() => ro.pool.reclaim(process.pid), { code: 'EACCES' });
  seg.pool.free(d);
});

t.test('usage().touched counts, per class, the pages really backed by memory, seen from any mapping', async (t) => {
  const page = 4096;
  const seg = tempSegment(t, { size: 8 << 20, classes: [{ size: 4096, count: 16 }, { size: 65536, count: 4 }, { size: 1 << 20, count: 2 }] });
  const pool = seg.pool;
  t.same(pool.usage().map((u) => u.touched), [0, 0, 0], 'a new segment: no arena page is backed yet (tmpfs allocates lazily)');
  const a = [must(pool.alloc(4096)), must(pool.alloc(4096)), must(pool.alloc(4096))];
  const b = must(pool.alloc(65536));
  const c = must(pool.alloc(1 << 20));
  for (const d of a) pool.view(d).fill(1);
  pool.view(b, 1)[0] = 1; // one byte: one page of the 64 KiB packet
  pool.view(c).fill(1);
  const want = [3 * page, page, 1 << 20];
  t.same(pool.usage().map((u) => u.touched), want, 'three 4 KiB packets, one page of a 64 KiB packet, a whole 1 MiB packet');
  const reader = Segment.open(seg.name, false);
  t.teardown(() => reader.close());
  t.same(reader.pool.usage().map((u) => u.touched), want, 'the same through another mapping that never touched them');
  t.ok(Segment.stat(seg.name).touched >= want.reduce((x, y) => x + y, 0), 'and tmpfs holds at least that for the file');
  for (const d of [...a, b, c]) pool.free(d);
  t.same(pool.usage().map((u) => u.touched), want, 'freeing a packet does not give its pages back');
});
