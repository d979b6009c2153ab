import t from 'tap';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Segment, isExhausted, type Descriptor } from '../../src/shm/index.js';
import { tempSegment, uniqueName } from '../helpers/segments.js';
import { requireBuiltShm, root } from './fixtures/helpers.js';

const GiB = 1024 ** 3;

// Node 20 aborts on an external ArrayBuffer over 4 GiB, so a 5 GiB segment is mapped once and
// shown to JS as five 1 GiB views. These tests touch a few pages only: tmpfs backs what is written.

t.test('a 5 GiB segment attaches and allocates packets in its last GiB, seen through another mapping', async (t) => {
  const seg = tempSegment(t, { size: 5 * GiB });
  t.equal(seg.header.size, 5 * GiB);
  t.equal(seg.views.length, 5, 'five 1 GiB views');
  t.ok(seg.views.every((v) => v.byteLength === GiB));
  const big = seg.pool.classes[seg.pool.classes.length - 1];
  t.ok(big.arenaOffset + big.count * big.size > 4 * GiB, `the ${big.size >> 20} MiB class reaches into the last GiB`);

  const got: Descriptor[] = [];
  for (;;) {
    // Past the budget on purpose (a limit of everything): every packet of the class, to the end.
    const d = seg.pool.alloc(big.size, process.pid, Number.MAX_SAFE_INTEGER);
    if (isExhausted(d)) break;
    got.push(d);
  }
  t.equal(got.length, big.count, `all ${big.count} packets of the largest class allocate`);
  const last = got.filter((d) => d.offset >= 4 * GiB);
  t.ok(last.length >= 32, `${last.length} of them lie in the last GiB`);
  t.ok(last.every((d) => d.offset + d.capacity <= 5 * GiB), 'none past the end');

  for (const d of last) {
    const v = seg.pool.view(d);
    v.set([d.index & 0xff, 0xa5, 0x5a], 0);
    v.set([0xee, d.generation & 0xff], d.capacity - 2);
  }
  const other = Segment.open(seg.name, false);
  t.teardown(() => other.close());
  t.equal(other.views.length, 5);
  const wrong = last.filter((d) => {
    const v = other.pool.view(other.pool.describe(d.index, d.generation));
    return v[0] !== (d.index & 0xff) || v[1] !== 0xa5 || v[2] !== 0x5a || v[d.capacity - 2] !== 0xee || v[d.capacity - 1] !== (d.generation & 0xff);
  });
  t.same(wrong, [], 'the bytes written at both ends of every packet in the last GiB read back through the second mapping');

  for (const d of got) seg.pool.free(d);
  t.equal(seg.pool.inUse(), 0);
  const st = Segment.stat(seg.name);
  t.ok(st.touched < 64 << 20, `only ${(st.touched / 2 ** 20).toFixed(1)} MiB of 5 GiB backed by memory`);
});

t.test('1 GiB packets fill whole views: the last byte of a 5 GiB segment is reachable', async (t) => {
  const seg = tempSegment(t, { size: 5 * GiB, classes: [{ size: 4096, count: 1024 }, { size: GiB, count: 4 }] });
  const gig: Descriptor[] = [];
  for (let i = 0; i < 4; i++) {
    const d = seg.pool.alloc(GiB);
    if (isExhausted(d)) throw new Error(`1 GiB packet ${i}: ${d.reason}`);
    gig.push(d);
  }
  const lastOne = gig.find((d) => d.offset === 4 * GiB);
  if (!lastOne) throw new Error(`no packet at 4 GiB: ${gig.map((d) => d.offset).join(', ')}`);
  const v = seg.pool.view(lastOne);
  t.equal(v.length, GiB);
  v[GiB - 1] = 0x7b;
  const other = Segment.open(seg.name, false);
  t.teardown(() => other.close());
  t.equal(new Uint8Array(other.views[4])[GiB - 1], 0x7b, 'byte 5 GiB − 1, written through a packet view, read through the raw last view');
  t.same(seg.pool.alloc(GiB), { exhausted: true, reason: 'exhausted', length: GiB });
  for (const d of gig) seg.pool.free(d);
});

t.test('/dev/shm too small: ENOSPC saying how full it is, and nothing is created', async (t) => {
  const { available, total } = Segment.shmUsage();
  t.ok(total > 0 && available <= total);
  const name = uniqueName('big');
  // If other tests free gigabytes meanwhile the create might succeed: then it fails, not leaks.
  t.teardown(() => Segment.exists(name) && Segment.unlink(name));
  // A domain segment claims its budget (what it can hold), not its size (several times that).
  const budget = Math.ceil((available + 4 * GiB) / GiB) * GiB;
  const err = t.throws(() => Segment.create({ name, budget }), { code: 'ENOSPC' }) as Error;
  t.match(err.message, new RegExp(`/dev/shm has no room for ${name} \\([\\d.]+ GiB\\): [\\d.]+ \\w?i?B of [\\d.]+ GiB used, [\\d.]+ \\w?i?B free[,.]`));
  t.match(err.message, /faasflow down --clean-shm/);
  t.comment(err.message);
  t.notOk(Segment.exists(name), 'no file was left behind');
});

// tmpfs allocates lazily, so statfs counts a sparse segment's untouched pages as free: two segments
// that each fit could together overcommit /dev/shm, and the later writer would die of SIGBUS.
// create() therefore subtracts what existing segments can still come to hold: a domain segment its
// tables and its budget (its classes reserve several times the budget, which it can never hold at
// once). Proven with one sparse segment of a 4 GiB budget (24 GiB of reserved classes, a few MiB
// really used) and a creation that only its claim makes too large; nothing fills /dev/shm.
t.test('create() counts what existing segments can still hold as taken: a domain segment its budget, not its size', async (t) => {
  const before = Segment.shmRoom();
  if (before.room < 8 * GiB) {
    t.plan(0, `needs 8 GiB of unclaimed /dev/shm, has ${(before.room / GiB).toFixed(1)} GiB`);
    return;
  }
  const a = tempSegment(t, { name: uniqueName('claim'), size: undefined, budget: 4 * GiB });
  const st = Segment.stat(a.name);
  t.ok(a.layout.size > 16 * GiB, `its classes reserve ${(a.layout.size / GiB).toFixed(1)} GiB for a 4 GiB budget`);
  t.ok(st.touched < 64 << 20, `the segment is sparse: ${(st.touched / 2 ** 20).toFixed(1)} MiB touched`);
  const holds = Math.ceil(a.layout.metaEnd / 4096) * 4096 + 4 * GiB;
  const room = Segment.shmRoom();
  t.same(room.segments.find((s) => s.name === a.name), { name: a.name, size: a.layout.size, holds, touched: st.touched, untouched: holds - st.touched }, 'it claims what its budget and tables can still hold');
  t.equal(room.claimed, room.segments.reduce((n, s) => n + s.untouched, 0));
  t.equal(room.room, room.available - room.claimed, 'room = statfs available − every claim');

  const budget = Math.floor((room.available - GiB) / (1 << 20)) * (1 << 20);
  t.ok(budget <= room.available && budget > room.room + 2 * GiB, `premise: ${(budget / GiB).toFixed(1)} GiB fits in statfs's free space, not next to the claim`);
  const name = uniqueName('claim');
  t.teardown(() => Segment.exists(name) && Segment.unlink(name));
  const err = t.throws(() => Segment.create({ name, budget }), { code: 'ENOSPC' }) as Error;
  t.match(err.message, new RegExp(`/dev/shm has no room for ${name} \\([\\d.]+ GiB\\): .*, but [\\d.]+ GiB of that is claimed by the untouched pages of \\d+ existing faasflow segments? \\(tmpfs allocates them when they are first written\\), so [\\d.]+ \\w?i?B is really free\\. Lower the segment size`));
  t.comment(err.message);
  t.notOk(Segment.exists(name), 'nothing was created');
  a.close();
  Segment.unlink(a.name);
  t.notOk(Segment.shmRoom().segments.some((s) => s.name === a.name), 'a removed segment claims nothing');
});

t.test('mmap out of address space: ENOMEM says so, not "/dev/shm has no room"', async (t) => {
  requireBuiltShm();
  const seg = tempSegment(t, { name: uniqueName('nomem'), size: 4 * GiB });
  const script = `import(${JSON.stringify(path.join(root, 'dist', 'shm', 'index.js'))}).then(({ Segment }) => {
    const out = [];
    for (const writable of [true, false]) {
      try { Segment.open(${JSON.stringify(seg.name)}, writable).close(); out.push({ writable, code: 'none' }); }
      catch (err) { out.push({ writable, code: err.code, message: err.message }); }
    }
    console.log(JSON.stringify(out));
  })`;
  // 3 GB of address space: enough for Node (without tap's loaders), not for a 4 GiB mapping on top.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const { stdout } = await promisify(execFile)('sh', ['-c', 'ulimit -v 3000000 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { timeout: 60_000, env });
  const results = JSON.parse(stdout) as Array<{ writable: boolean; code: string; message: string }>;
  for (const r of results) {
    t.equal(r.code, 'ENOMEM', `${r.writable ? 'read-write' : 'read-only'}: ENOMEM`);
    t.match(r.message, `cannot map /dev/shm${seg.name} (4.0 GiB): mmap says this process is out of memory for the mapping`);
    t.match(r.message, "/dev/shm's free space is not the problem");
    t.notMatch(r.message, /has no room/);
  }
});
