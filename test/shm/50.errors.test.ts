import t, { type Test } from 'tap';
import fs from 'node:fs';
import { Segment, ShmError, decodeFrame, encodeFrame, FRAME_BYTES, FrameType, LAYOUT_VERSION, NO_PACKET, MAGIC, isExhausted, type Descriptor } from '../../src/shm/index.js';
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

t.test('a file that is not a faasflow segment is refused: wrong magic, corrupt header', async (t) => {
  const name = uniqueName('err');
  t.teardown(() => fs.rmSync(file(name), { force: true }));
  fs.writeFileSync(file(name), Buffer.alloc(8192, 0x41));
  t.throws(() => Segment.open(name), { code: 'EBADMAGIC', message: new RegExp(`${name} is not a faasflow segment \\(magic 0x41414141, expected 0x${MAGIC.toString(16)}\\)`) });

  const bad = closedSegment(t);
  patch(bad, 32, u32(99));
  t.throws(() => Segment.open(bad), { code: 'EBADMAGIC', message: /corrupt header \(99 size classes\)/ });
});

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

  // A header whose size matches but whose class table points past the end.
  const lying = closedSegment(t);
  patch(lying, 128 + 12, u32(0x7fffffff));
  t.throws(() => Segment.open(lying), { code: 'ETRUNCATED', message: /ends past the segment/ });
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
  t.throws(() => Segment.create({ name: uniqueName('err'), size: 1000 }), { code: 'EINVAL', message: /≥ 1 MiB/ });
  t.throws(() => Segment.create({ name: uniqueName('err'), size: 2 << 20, classes: [{ size: 3000 }] }), { code: 'EINVAL', message: /power of two/ });
  t.throws(() => Segment.create({ name: uniqueName('err'), size: 2 << 20, classes: [{ size: 4096 }, { size: 256 }] }), { code: 'EINVAL', message: /smallest first/ });
  t.throws(() => Segment.create({ name: uniqueName('err'), size: 2 << 20, classes: [{ size: 1 << 20, count: 4 }] }), { code: 'EINVAL', message: /do not fit/ });
  t.same(Segment.list(), before, 'no failed create left a file behind');
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
