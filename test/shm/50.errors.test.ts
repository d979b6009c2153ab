import t, { type Test } from 'tap';
import fs from 'node:fs';
import { Segment, ShmError, decodeFrame, encodeFrame, FRAME_BYTES, FrameType, LAYOUT_VERSION, NO_PACKET, MAGIC, isExhausted, type Descriptor } from '../../src/shm/index.js';
import { CLASS_TABLE_OFFSET, HDR_BITMAP_OFFSET, HDR_BUDGET, HDR_CLASS_COUNT, HDR_FN_STATS_OFFSET, HDR_MAX_FUNCTIONS, HDR_META_END, HDR_PACKET_COUNT, HDR_PACKET_OFFSET, HDR_PROC_OFFSET, HDR_PROC_SLOTS, HDR_PROC_STATS_OFFSET, HDR_KIND } from '../../src/shm/constants.js';
import { tempSegment, uniqueName } from '../helpers/segments.js';

const file = (name: string) => `/dev/shm${name}`;

/** A segment that is closed at once, so the test can damage its file; unlinked in teardown. */
function closedSegment(t: Test): string {
  const name = uniqueName('err');
  Segment.create({ name, size: 64 << 20 }).close();
  t.teardown(() => fs.rmSync(file(name), { force: true }));
  return name;
}

function patch(name: string, at: number, bytes: Uint8Array) {
  const fd = fs.openSync(file(name), 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    fs.closeSync(fd);
  }
}
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const f64 = (n: number) => new Uint8Array(new Float64Array([n]).buffer);

t.test('descriptor misuse is a typed error, and the pool is unharmed', async (t) => {
  const seg = tempSegment(t, { size: 4 << 20, classes: [{ size: 256, count: 64 }] });
  const pool = seg.pool;
  const d = pool.alloc(10) as Descriptor;

  t.throws(() => pool.describe(seg.layout.packetCount, 1), { code: 'ERANGE', message: /packet index 64 is out of range \(0\.\.63\)/ });
  t.throws(() => pool.describe(-1, 1), { code: 'ERANGE' });
  t.throws(() => pool.describe(1.5, 1), { code: 'ERANGE' });
  t.throws(() => pool.free({ ...d, index: 1e9 }), { code: 'ERANGE' }, 'free with an out-of-range index');
  t.throws(() => pool.transfer({ ...d, index: Number.NaN }, 1), { code: 'ERANGE' });
  t.throws(() => pool.view(d, d.capacity + 1), { code: 'ERANGE' }, 'a view longer than the packet would reach into the next one');
  t.throws(() => pool.view({ ...d, offset: 2 ** 40 }), { code: 'ERANGE' }, 'a view past the segment');
  // Past the end of a segment smaller than one 1 GiB view: inside views[0]'s index range, outside
  // its bytes (was a plain RangeError from the Uint8Array constructor).
  t.throws(() => pool.view({ ...d, offset: seg.layout.size + 4096 }), { code: 'ERANGE', message: /outside packet/ }, 'an offset past the end, within the last view');
  t.throws(() => pool.view({ ...d, offset: seg.layout.size - 10 }, 100), { code: 'ERANGE' }, 'a view running over the end');
  t.throws(() => pool.view({ ...d, offset: -4096 }), { code: 'ERANGE' }, 'a negative offset');
  t.throws(() => pool.describe(d.index, d.generation + 1), { code: 'ESTALE', message: /generation/ });
  t.throws(() => pool.free({ ...d, generation: d.generation - 1 }), { code: 'ESTALE', message: /stale descriptor/ });
  for (const bad of [0, -5, 1.5, 2 ** 31, Number.NaN]) {
    t.throws(() => pool.alloc(10, bad), { code: 'EINVAL', message: /not a process id/ }, `alloc for owner ${bad}`);
    t.throws(() => pool.transfer(d, bad), { code: 'EINVAL', message: /not a process id/ }, `transfer to owner ${bad}`);
  }
  t.equal(pool.owner(d), process.pid, 'none of that touched the packet');
  t.equal(pool.inUse(), 1);

  pool.free(d);
  t.throws(() => pool.free(d), { code: 'EDOUBLEFREE', message: /already free: double free/ });
  t.throws(() => pool.transfer(d, 1), { code: 'ESTALE' });
  const never = pool.describe.bind(pool, 63, 1);
  t.throws(never, { code: 'ESTALE', message: /is free/ }, 'a never-allocated packet cannot be described');
  t.throws(() => pool.free({ index: 63, generation: 1, offset: 0, capacity: 256 }), { code: 'ESTALE', message: /not allocated/ });

  t.equal(pool.inUse(), 0);
  const all = Array.from({ length: 64 }, () => pool.alloc(1));
  t.ok(all.every((r) => !isExhausted(r)), 'every packet still allocates');
  for (const r of all) pool.free(r as Descriptor);
});

t.test('a view of a closed segment is a typed ERANGE, not a TypeError', async (t) => {
  const seg = tempSegment(t, { size: 4 << 20, classes: [{ size: 256, count: 64 }] });
  const d = seg.pool.alloc(10) as Descriptor;
  seg.pool.free(d);
  seg.close();
  t.throws(() => seg.pool.view(d), { code: 'ERANGE', message: /the segment is closed/ });
});

t.test('a file that is not a faasflow segment is refused: wrong magic, corrupt header', async (t) => {
  const name = uniqueName('err');
  t.teardown(() => fs.rmSync(file(name), { force: true }));
  fs.writeFileSync(file(name), Buffer.alloc(8192, 0x41));
  t.throws(() => Segment.open(name), { code: 'EBADMAGIC', message: new RegExp(`${name} is not a faasflow segment \\(magic 0x41414141, expected 0x${MAGIC.toString(16)}\\)`) });

  const bad = closedSegment(t);
  patch(bad, HDR_CLASS_COUNT, u32(99));
  t.throws(() => Segment.open(bad), { code: 'ECORRUPT', message: /corrupt header: 99 size classes/ });
});

// Each header word, damaged on a real segment: the layout recomputed from the header's own
// parameters no longer matches, and attaching says which field, which segment, and the fix.
// Class record fields: +0 arena offset (f64), +8 size, +12 count, +16 first packet, +20 bitmap
// word, +24 bitmap words, +28 counter word.
const damage: Array<[string, number, Uint8Array, RegExp]> = [
  ['packet count', HDR_PACKET_COUNT, u32(7), /packetCount is 7, the layout of its own parameters has \d+/],
  ['process table offset', HDR_PROC_OFFSET, u32(0), /procOffset is 0/],
  ['packet table offset', HDR_PACKET_OFFSET, u32(8192), /packetOffset is 8192/],
  ['bitmap offset', HDR_BITMAP_OFFSET, u32(12), /bitmapOffset is 12/],
  ['function stats offset', HDR_FN_STATS_OFFSET, u32(64), /fnStatsOffset is 64/],
  ['process stats offset', HDR_PROC_STATS_OFFSET, u32(64), /procStatsOffset is 64/],
  ['metadata end', HDR_META_END, u32(1 << 30), /metaEnd is 1073741824/],
  ['process slots', HDR_PROC_SLOTS, u32(100), /the layout of its own parameters/],
  ['max functions', HDR_MAX_FUNCTIONS, u32(5000), /parameters make no valid layout \(maxFunctions must be 0\.\.4096\)/],
  ['kind', HDR_KIND, u32(7), /corrupt header: kind 7/],
  // The budget decides nothing about where anyone reads or writes, but it must be one the classes can hold.
  ['budget (more than its packets hold)', HDR_BUDGET, f64(2 ** 38), /budget is 274877906944, the layout of its own parameters has \d+/],
  ['budget (not a number)', HDR_BUDGET, f64(Number.NaN), /parameters make no valid layout \(budget must be a whole number of bytes/],
  ['class arena offset', CLASS_TABLE_OFFSET + 0, new Uint8Array(new Float64Array([4096]).buffer), /class 4096: arenaOffset is 4096/],
  ['class size', CLASS_TABLE_OFFSET + 8, u32(3000), /parameters make no valid layout \(size class 3000 must be a power of two/],
  ['class count', CLASS_TABLE_OFFSET + 12, u32(100_000), /parameters make no valid layout \(the packet classes do not fit/],
  ['class count (2^31 − 1)', CLASS_TABLE_OFFSET + 12, u32(0x7fffffff), /parameters make no valid layout \(metadata exceeds 1 GiB/],
  ['class first packet', CLASS_TABLE_OFFSET + 32 + 16, u32(0), /class 8192: firstPacket is 0/],
  ['class bitmap word', CLASS_TABLE_OFFSET + 20, u32(1), /class 4096: bitmapWord is 1/],
  ['class bitmap words', CLASS_TABLE_OFFSET + 24, u32(1), /class 4096: bitmapWords is 1/],
  ['class counter word', CLASS_TABLE_OFFSET + 28, u32(5), /class 4096: counterWord is 5/],
];
for (const [what, at, bytes, why] of damage) {
  t.test(`a header with a damaged ${what} is refused: ECORRUPT with the segment and the fix`, async (t) => {
    const name = closedSegment(t);
    patch(name, at, bytes);
    const err = t.throws(() => Segment.open(name, false), { code: 'ECORRUPT', message: why }) as ShmError;
    t.equal(err.segment, name);
    t.match(err.message, `${name} has a corrupt header`);
    t.match(err.message, 'faasflow down --clean-shm');
    t.match(err.message, `rm /dev/shm${name}`);
    t.throws(() => Segment.open(name, true), { code: 'ECORRUPT' }, 'read-write too');
  });
}

t.test('a segment of another layout version is refused with the fix', async (t) => {
  const name = closedSegment(t);
  patch(name, 4, u32(LAYOUT_VERSION + 1));
  const err = t.throws(() => Segment.open(name, false), { code: 'EVERSION' }) as ShmError;
  t.match(err.message, `layout version ${LAYOUT_VERSION + 1}, this faasflow reads version ${LAYOUT_VERSION}`);
  t.match(err.message, 'faasflow down --clean-shm');
  t.equal(err.segment, name);
});

t.test('a truncated or resized segment is refused, never mapped past its end', async (t) => {
  const half = closedSegment(t);
  fs.truncateSync(file(half), 2 << 20);
  t.throws(() => Segment.open(half), { code: 'ETRUNCATED', message: /header says 67108864 bytes but the segment is 2097152 \(truncated or resized\)/ });

  const grown = closedSegment(t);
  fs.truncateSync(file(grown), 128 << 20);
  t.throws(() => Segment.open(grown), { code: 'ETRUNCATED', message: /resized/ });

  const tiny = closedSegment(t);
  fs.truncateSync(file(tiny), 100);
  t.throws(() => Segment.open(tiny), { code: 'ETRUNCATED', message: /100 bytes: too small to be a faasflow segment/ });

  const empty = closedSegment(t);
  fs.truncateSync(file(empty), 0);
  t.throws(() => Segment.open(empty), { code: 'ETRUNCATED', message: /is empty/ });

  // A header whose size matches but whose class table would reach past the end: corrupt.
  const lying = closedSegment(t);
  patch(lying, CLASS_TABLE_OFFSET + 12, u32(100_000));
  t.throws(() => Segment.open(lying), { code: 'ECORRUPT', message: /do not fit/ });
});

t.test('a name that exists already is never reused, and the message says whose it is', async (t) => {
  const seg = tempSegment(t);
  const err = t.throws(() => Segment.create({ name: seg.name, size: 64 << 20 }), { code: 'EEXIST' }) as ShmError;
  t.match(err.message, `segment /dev/shm${seg.name} already exists (created by pid ${process.pid}, still running)`);
  t.match(err.message, 'faasflow down --clean-shm');
  t.equal(seg.pool.inUse(), 0, 'the existing segment is untouched');

  const stale = closedSegment(t);
  patch(stale, 16, u32(0x3ffffe)); // a pid above any this box has handed out
  t.throws(() => Segment.create({ name: stale, size: 64 << 20 }), { code: 'EEXIST', message: /no longer running/ });
});

t.test('missing segments, bad names and bad parameters: typed errors, nothing left in /dev/shm', async (t) => {
  const before = Segment.list();
  const missing = uniqueName('err');
  t.throws(() => Segment.open(missing), { code: 'ENOENT', message: /no segment \/dev\/shm\/faasflow-err-.*: the instance is not running/ });
  t.throws(() => Segment.stat(missing), { code: 'ENOENT' });
  t.throws(() => Segment.unlink(missing), { code: 'ENOENT' });
  t.throws(() => Segment.create({ name: `/faasflow-${'x'.repeat(300)}`, size: 64 << 20 }), { code: 'ENAMETOOLONG', message: /too long \(309 bytes, at most 255\): use a shorter --instance name/ });
  t.throws(() => Segment.open('faasflow-no-slash'), { code: 'EINVAL', message: /must be "\/" followed by a name without "\/"/ });
  t.throws(() => Segment.create({ name: '/faasflow-a/b', size: 64 << 20 }), { code: 'EINVAL' });
  const tiny = uniqueName('err');
  const err = t.throws(() => Segment.create({ name: tiny, size: 1000 }), { code: 'EINVAL', message: /≥ 8192/ }) as ShmError;
  t.equal(err.segment, tiny, 'a layout error names the segment');
  t.match(err.message, new RegExp(`^${tiny}: segment size must be`));
  t.throws(() => Segment.create({ name: uniqueName('err'), size: 2 << 20, classes: [{ size: 3000 }] }), { code: 'EINVAL', message: /power of two/ });
  t.throws(() => Segment.create({ name: uniqueName('err'), size: 2 << 20, classes: [{ size: 4096 }, { size: 256 }] }), { code: 'EINVAL', message: /smallest first/ });
  const big = uniqueName('err');
  t.throws(() => Segment.create({ name: big, size: 2 << 20, classes: [{ size: 1 << 20, count: 4 }] }), { code: 'EINVAL', message: new RegExp(`^${big}: the packet classes do not fit`), segment: big });
  // Other test files run beside this one and create and remove their own segments meanwhile, so
  // only this process's names are compared.
  const mine = (list: typeof before): typeof before => list.filter((s) => s.name.startsWith(`/faasflow-err-${process.pid}-`));
  t.same(mine(Segment.list()), mine(before), 'no failed create left a file behind');
});

t.test('a descriptor frame with garbage or missing bytes is a typed error; a valid frame still names a checked packet', async (t) => {
  const seg = tempSegment(t, { size: 2 << 20, classes: [{ size: 256, count: 16 }] });
  t.throws(() => decodeFrame(Buffer.alloc(FRAME_BYTES, 0xff)), { code: 'EBADFRAME', message: /bad frame magic 0xffff/ });
  const ok = Buffer.alloc(FRAME_BYTES);
  encodeFrame({ type: FrameType.Request, flags: 0, index: 99, generation: 1, length: 10, metaLength: 0, functionId: 1, requestId: 1, status: 0, metaIndex: NO_PACKET, metaGeneration: 0 }, ok);
  t.throws(() => decodeFrame(ok.subarray(0, 20)), { code: 'EBADFRAME', message: new RegExp(`truncated frame: 20 of ${FRAME_BYTES} bytes`) });
  const f = decodeFrame(ok);
  t.throws(() => seg.pool.describe(f.index, f.generation), { code: 'ERANGE' }, 'a well-formed frame naming a packet that does not exist');
  t.ok(new ShmError('x', 'EBADFRAME') instanceof Error);
});
