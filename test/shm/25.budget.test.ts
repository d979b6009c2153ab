// A domain's packet memory is a budget of bytes, not packet counts: every class can hold all of it
// on its own (counts derived from the budget, the small classes capped), and one counter word holds
// the domain to it. ZOMBIES: zero, one, many, the boundaries (exactly the budget, one byte or one
// packet over), the fallbacks, reclaim, a crash between claim and charge, a scribbled counter.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { Segment, isExhausted, type Descriptor, type Exhausted } from '../../src/shm/index.js';
import { BUDGET_UNIT, CLASS_PACKET_CAP, MAX_CLASSES, PKT_OWNER, PKT_WORDS } from '../../src/shm/constants.js';
import { DEFAULT_CLASSES, computeLayout, replyReserve } from '../../src/shm/layout.js';
import { holdable } from '../../src/shm/space.js';
import { tempSegment } from '../helpers/segments.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function must(r: Descriptor | Exhausted): Descriptor {
  if (isExhausted(r)) throw new Error(`unexpected ${r.reason} for ${r.length} bytes`);
  return r;
}

/** The raw charged counter in bytes (charged() never shows it below 0). */
const counter = (seg: Segment) => seg.i32[seg.layout.poolWord] * BUDGET_UNIT;

/** A pid that is certainly dead: a process that has exited and been reaped. */
const deadPid = () => Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());

t.test('the default classes: every power of two from 4 KiB to 16 MiB, each holding the whole budget or capped', async (t) => {
  t.same(DEFAULT_CLASSES.map((c) => c.size), Array.from({ length: 13 }, (_, i) => 4096 * 2 ** i));
  t.ok(DEFAULT_CLASSES.length <= MAX_CLASSES);
  for (const budget of [64 * MiB, Math.floor(1024 * MiB / 7), 1024 * MiB]) {
    const l = computeLayout({ kind: 'domain', budget, classes: DEFAULT_CLASSES, maxFunctions: 0, fnWriters: 0, procSlots: 0, statsSlots: 16 });
    t.equal(l.budget, budget, `${budget} B: the budget is kept`);
    for (const c of l.classes) {
      const whole = c.count * c.size >= budget;
      t.ok(whole || c.count === CLASS_PACKET_CAP, `${budget} B, class ${c.size}: ${c.count} packets ${whole ? 'hold the budget' : 'at the cap'}`);
      t.ok(c.count === CLASS_PACKET_CAP || (c.count - 1) * c.size < budget, 'and no more than it takes');
    }
    t.ok(l.size > 5 * budget, `the classes reserve ${(l.size / budget).toFixed(1)}× the budget`);
    t.equal(holdable(l), Math.ceil(l.metaEnd / 4096) * 4096 + budget, 'what the space check counts: the tables and the budget');
    t.equal(replyReserve(l), Math.max(16 * MiB, Math.ceil(budget / 8 / BUDGET_UNIT) * BUDGET_UNIT), 'the reserve for replies: an eighth, at least the largest class');
  }
});

t.test('zero: a new domain has its whole budget free; a 0-byte body still takes (and is charged) a packet', async (t) => {
  const seg = tempSegment(t, { size: undefined, budget: 64 * MiB });
  const pool = seg.pool;
  t.equal(pool.budget, 64 * MiB);
  t.equal(seg.header.layout.budget, 64 * MiB, 'the budget is in the header');
  t.same(pool.memory(), { budget: 64 * MiB, held: 0, free: 64 * MiB, waits: 0, refusals: 0 });
  t.equal(pool.charged(), 0);
  const d = must(pool.alloc(0));
  t.equal(d.capacity, 4096);
  t.equal(pool.charged(), 4096, 'charged its class size');
  pool.free(d);
  t.equal(pool.charged(), 0, 'free uncharges');
  const reader = Segment.open(seg.name, false);
  t.teardown(() => reader.close());
  t.same(reader.pool.memory(), { budget: 64 * MiB, held: 0, free: 64 * MiB, waits: 0, refusals: 0 }, 'a read-only reader sees the same');
});

t.test('one: a 1 MiB body takes a 1 MiB packet, a byte more a 2 MiB one: never twice the bytes it carries', async (t) => {
  const seg = tempSegment(t, { size: undefined, budget: 64 * MiB });
  const pool = seg.pool;
  for (const length of [4096, 4097, 100_000, MiB, MiB + 1, 5_000_000, 16 * MiB]) {
    const d = must(pool.alloc(length));
    t.ok(d.capacity >= length && (length < 4096 || d.capacity < 2 * length), `${length} B → ${d.capacity} B packet`);
    t.equal(pool.charged(), d.capacity);
    t.equal(pool.memory().held, d.capacity);
    pool.free(d);
  }
  t.same(pool.alloc(16 * MiB + 1), { exhausted: true, reason: 'too-large', length: 16 * MiB + 1 }, 'one byte past the largest class: too-large, nothing charged');
  t.equal(pool.charged(), 0);
});

t.test('many: exactly the budget in 1 MiB packets, then short (not exhausted); a free makes room again', async (t) => {
  const seg = tempSegment(t, { size: undefined, budget: 64 * MiB });
  const pool = seg.pool;
  const held: Descriptor[] = [];
  for (let i = 0; i < 64; i++) held.push(must(pool.alloc(MiB)));
  t.equal(pool.charged(), 64 * MiB, 'exactly the budget');
  t.same(pool.memory(), { budget: 64 * MiB, held: 64 * MiB, free: 0, waits: 0, refusals: 0 });
  t.same(pool.alloc(MiB), { exhausted: true, reason: 'short', length: MiB }, 'one packet over: short');
  t.same(pool.alloc(1), { exhausted: true, reason: 'short', length: 1 }, 'even a small one');
  t.equal(pool.charged(), 64 * MiB, 'a refused charge is undone');
  t.equal(pool.inUse(), 64, 'and its claim given back');
  pool.free(held.pop()!);
  const again = must(pool.alloc(MiB));
  t.equal(again.capacity, MiB, 'the freed megabyte serves the next one');
  held.push(again);
  pool.free(held.pop()!);
  t.same(pool.alloc(2 * MiB), { exhausted: true, reason: 'short', length: 2 * MiB }, '1 MiB free does not hold 2 MiB');
  t.same(pool.alloc(MiB + 1), { exhausted: true, reason: 'short', length: MiB + 1 }, 'nor a byte over 1 MiB (a 2 MiB packet)');
  const big = must(pool.alloc(MiB));
  held.push(big);
  for (const d of held) pool.free(d);
  t.equal(pool.charged(), 0);
  t.equal(pool.inUse(), 0);
  const sixteen = Array.from({ length: 4 }, () => must(pool.alloc(16 * MiB)));
  t.equal(pool.charged(), 64 * MiB, 'the budget in four packets of the largest class');
  for (const d of sixteen) pool.free(d);
});

t.test('a limit below the budget (what the gateway admits requests up to) leaves the rest to others', async (t) => {
  const seg = tempSegment(t, { size: undefined, budget: 64 * MiB });
  const pool = seg.pool;
  const limit = pool.budget - replyReserve(seg.layout);
  t.equal(limit, 48 * MiB);
  const requests: Descriptor[] = [];
  for (;;) {
    const d = pool.alloc(MiB, process.pid, limit);
    if (isExhausted(d)) {
      t.equal(d.reason, 'short');
      break;
    }
    requests.push(d);
  }
  t.equal(requests.length, 48, 'requests stop at budget − reserve');
  const replies = Array.from({ length: 16 }, () => must(pool.alloc(MiB)));
  t.equal(pool.charged(), 64 * MiB, 'replies may use the reserve');
  for (const d of [...requests, ...replies]) pool.free(d);
});

t.test('fallbacks: a class out of packets spills into the next, charged at that size; short stops the fallback', async (t) => {
  const seg = tempSegment(t, { size: 4 * MiB, budget: 40 * KiB, classes: [{ size: 4096, count: 2 }, { size: 8192, count: 4 }, { size: 65536, count: 1 }] });
  const pool = seg.pool;
  t.equal(pool.budget, 40 * KiB);
  const a = [must(pool.alloc(100)), must(pool.alloc(100))];
  const spill = must(pool.alloc(100));
  t.equal(spill.capacity, 8192, 'the 4 KiB class is out of packets: 8 KiB');
  t.equal(pool.charged(), 16 * KiB, 'charged 4 + 4 + 8 KiB');
  const more = [must(pool.alloc(5000)), must(pool.alloc(5000)), must(pool.alloc(5000))];
  t.equal(pool.charged(), 40 * KiB, 'exactly the budget');
  t.same(pool.alloc(100), { exhausted: true, reason: 'short', length: 100 }, 'then short, before the 64 KiB class is tried');
  for (const d of [...a, spill, ...more]) pool.free(d);
  const budgetless = tempSegment(t, { size: 4 * MiB, classes: [{ size: 4096, count: 2 }] });
  t.equal(budgetless.pool.budget, 8192, 'counts listed, no budget: the budget is every packet');
  must(budgetless.pool.alloc(1));
  must(budgetless.pool.alloc(1));
  t.same(budgetless.pool.alloc(1), { exhausted: true, reason: 'exhausted', length: 1 }, 'out of packets is exhausted, not short');
});

t.test('a crash between claim and charge: reclaim leaves the counter one packet low, the domain holds one packet more', async (t) => {
  const seg = tempSegment(t, { size: undefined, budget: 64 * MiB });
  const pool = seg.pool;
  const dead = deadPid();
  // The dead process's claim of a 1 MiB packet, as alloc leaves it when killed before its charge:
  // owner word and bitmap bit set, nothing charged.
  const cls = pool.classes[pool.classFor(MiB)];
  const index = cls.firstPacket + 3;
  Atomics.store(seg.i32, seg.layout.packetOffset / 4 + index * PKT_WORDS + PKT_OWNER, dead);
  Atomics.or(seg.i32, cls.bitmapWord, 1 << 3);
  t.equal(pool.memory().held, MiB, 'the packet is held (the owner word is the truth)');
  t.equal(pool.charged(), 0, 'but not charged');
  t.same(pool.reclaimDead((pid) => pid !== dead), new Map([[dead, 1]]));
  t.equal(counter(seg), -MiB, 'the reclaim uncharged what was never charged: one packet low');
  t.equal(pool.charged(), 0, 'charged() never shows less than 0');
  // Every 1 MiB packet (the class holds exactly the budget), then one megabyte more in 64 KiB ones.
  const held = [...Array.from({ length: 64 }, () => must(pool.alloc(MiB))), ...Array.from({ length: 16 }, () => must(pool.alloc(64 * KiB)))];
  t.equal(pool.memory().held, 65 * MiB, 'the safe direction: one packet more than the budget, once');
  t.same(pool.alloc(64 * KiB), { exhausted: true, reason: 'short', length: 64 * KiB });
  for (const d of held) pool.free(d);
});

t.test('reclaim and reclaimDead uncharge what a dead process held', async (t) => {
  const seg = tempSegment(t, { size: undefined, budget: 64 * MiB });
  const pool = seg.pool;
  const dead = deadPid();
  for (const length of [MiB, 3 * MiB, 100]) must(pool.alloc(length, dead));
  t.equal(pool.charged(), MiB + 4 * MiB + 4096);
  t.equal(pool.reclaim(dead), 3);
  t.equal(counter(seg), 0, 'back to exactly 0');
  t.same(pool.memory(), { budget: 64 * MiB, held: 0, free: 64 * MiB, waits: 0, refusals: 0 });
});

t.test('a container scribbling on the counter makes its own domain short or lets it hold more, never more than its packets', async (t) => {
  const seg = tempSegment(t, { size: 4 * MiB, budget: 32 * KiB, classes: [{ size: 4096, count: 4 }, { size: 8192, count: 2 }] });
  const pool = seg.pool;
  seg.i32[seg.layout.poolWord] = 0x7fffffff;
  t.same(pool.alloc(1), { exhausted: true, reason: 'short', length: 1 }, 'a huge charge: its own requests are short');
  t.equal(pool.memory().held, 0, 'what readers show comes from the owner words');
  seg.i32[seg.layout.poolWord] = -(1 << 30);
  const all: Descriptor[] = [];
  for (let i = 0; i < 10; i++) {
    const d = pool.alloc(1);
    if (isExhausted(d)) {
      t.equal(d.reason, 'exhausted', 'a negative charge admits everything, until the packets run out');
      break;
    }
    all.push(d);
  }
  t.equal(all.length, 6, 'every packet, no more');
  for (const d of all) pool.free(d);
  t.equal(pool.inUse(), 0);
});

t.test('waits and refusals are counted per domain, by any process that maps it read-write', async (t) => {
  const seg = tempSegment(t, { size: undefined, budget: 64 * MiB });
  seg.pool.count('wait');
  seg.pool.count('wait');
  seg.pool.count('refusal');
  const reader = Segment.open(seg.name, false);
  t.teardown(() => reader.close());
  t.match(reader.pool.memory(), { waits: 2, refusals: 1 });
  reader.pool.count('wait');
  t.match(seg.pool.memory(), { waits: 2 }, 'a read-only reader counts nothing (and does not throw)');
});
