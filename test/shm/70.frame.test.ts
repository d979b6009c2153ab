import t from 'tap';
import { FRAME_BYTES, FrameReader, FrameType, NO_PACKET, decodeFrame, encodeFrame, frameBuffer, type Frame } from '../../src/shm/index.js';
import { MAX_FRAME_FUNCTION, MAX_FRAME_LENGTH, MAX_STATUS } from '../../src/shm/frame.js';

const frame = (over: Partial<Frame> = {}): Frame => ({
  type: FrameType.Request,
  flags: 3,
  index: 12345,
  generation: -7,
  length: 1 << 20,
  metaLength: 99,
  functionId: 4095,
  requestId: 0xffffffff,
  status: 200,
  metaIndex: NO_PACKET,
  metaGeneration: 0,
  ...over,
});

t.test('a frame is fixed-size, at most 64 bytes, and every field survives the round trip', async (t) => {
  t.ok(FRAME_BYTES <= 64 && FRAME_BYTES % 16 === 0, `${FRAME_BYTES} bytes`);
  const extremes: Partial<Frame>[] = [
    {},
    { index: 0, generation: 0, length: 0, requestId: 0, status: 0, flags: 0 },
    { index: 0xfffffffe, generation: 2 ** 31 - 1, length: MAX_FRAME_LENGTH, metaLength: MAX_FRAME_LENGTH, functionId: MAX_FRAME_FUNCTION, requestId: 0xffffffff, status: MAX_STATUS, flags: 255, metaIndex: 5, metaGeneration: -(2 ** 31) },
    { type: FrameType.Reply, index: NO_PACKET, status: 504 },
    { type: FrameType.Cancel },
  ];
  for (const e of extremes) {
    const f = frame(e);
    t.same(decodeFrame(frameBuffer(f)), f, JSON.stringify(e));
  }
  const buf = Buffer.alloc(FRAME_BYTES * 3 + 5);
  encodeFrame(frame({ requestId: 1 }), buf, 5);
  encodeFrame(frame({ requestId: 2 }), buf, 5 + FRAME_BYTES);
  t.equal(decodeFrame(buf, 5 + FRAME_BYTES).requestId, 2, 'frames encode and decode at any offset of a larger buffer');
});

t.test('garbage and truncated bytes are typed EBADFRAME errors naming the problem', async (t) => {
  const good = frameBuffer(frame());
  const damaged = (at: number, value: number, width: 1 | 2 | 4 = 1) => {
    const b = Buffer.from(good);
    if (width === 1) b.writeUInt8(value, at);
    else if (width === 2) b.writeUInt16LE(value, at);
    else b.writeUInt32LE(value, at);
    return b;
  };
  t.throws(() => decodeFrame(good.subarray(0, FRAME_BYTES - 1)), { code: 'EBADFRAME', message: `truncated frame: ${FRAME_BYTES - 1} of ${FRAME_BYTES} bytes` });
  t.throws(() => decodeFrame(Buffer.alloc(0)), { code: 'EBADFRAME', message: /truncated/ });
  t.throws(() => decodeFrame(good, 1), { code: 'EBADFRAME', message: /truncated/ }, 'an offset that leaves less than one frame');
  t.throws(() => decodeFrame(Buffer.from('POST /function/1 HTTP/1.1\r\nHost: x\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxx')), { code: 'EBADFRAME', message: /bad frame magic 0x4f50/ }, 'an HTTP request sent to the frame socket');
  t.throws(() => decodeFrame(damaged(2, 0)), { code: 'EBADFRAME', message: 'unknown frame type 0' });
  t.throws(() => decodeFrame(damaged(2, 8)), { code: 'EBADFRAME', message: 'unknown frame type 8' });
  t.throws(() => decodeFrame(damaged(28, 1000, 2)), { code: 'EBADFRAME', message: 'frame status 1000 out of range' });
  for (const at of [30, 40, 44]) t.throws(() => decodeFrame(damaged(at, 1, at === 30 ? 2 : 4)), { code: 'EBADFRAME', message: /reserved frame bytes/ }, `reserved bytes at ${at}`);
  // Random bytes never crash the decoder: each is a frame or a typed error.
  let rejected = 0;
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.alloc(FRAME_BYTES);
    for (let j = 0; j < FRAME_BYTES; j++) b[j] = Math.floor(Math.random() * 256);
    if (i % 2) b.writeUInt16LE(0xfaf1, 0);
    try {
      decodeFrame(b);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EBADFRAME') throw err;
      rejected++;
    }
  }
  t.ok(rejected > 1900, `${rejected} of 2000 random frames rejected with EBADFRAME, none crashed`);
});

t.test('FrameReader reassembles frames split at every byte boundary and coalesced in one chunk', async (t) => {
  const frames = Array.from({ length: 5 }, (_, i) => frame({ requestId: i, index: i * 3 }));
  const stream = Buffer.concat(frames.map(frameBuffer));
  for (let cut = 1; cut < stream.length; cut++) {
    const r = new FrameReader();
    const got: Frame[] = [];
    r.push(stream.subarray(0, cut), (f) => got.push(f));
    t.equal(r.buffered, cut % FRAME_BYTES);
    r.push(stream.subarray(cut), (f) => got.push(f));
    if (got.length !== 5 || got.some((f, i) => f.requestId !== i) || r.buffered !== 0) {
      t.fail(`split at ${cut}: got ${got.length} frames`);
      return;
    }
  }
  t.pass(`every split of a ${stream.length}-byte stream yields the 5 frames in order`);
  const r = new FrameReader();
  const got: number[] = [];
  for (const byte of stream) r.push(Buffer.from([byte]), (f) => got.push(f.requestId));
  t.same(got, [0, 1, 2, 3, 4], 'one byte at a time');
});

t.test('FrameReader: a bad frame in the stream throws EBADFRAME after delivering the good ones before it', async (t) => {
  const r = new FrameReader();
  const got: number[] = [];
  const bad = Buffer.alloc(FRAME_BYTES, 0x20);
  const stream = Buffer.concat([frameBuffer(frame({ requestId: 1 })), bad, frameBuffer(frame({ requestId: 2 }))]);
  t.throws(() => r.push(stream, (f) => got.push(f.requestId)), { code: 'EBADFRAME' });
  t.same(got, [1]);
});

// encodeFrame used to wrap what did not fit (index −1 became NO_PACKET, length 2^32 + 5 became 5,
// function id −3 became 4294967293, flags 256 became 0). Each field: the values at its limits
// encode and decode unchanged; the ones past them throw ERANGE naming the field, and nothing is
// written.
const U32_BAD = [-1, 2 ** 32, 2 ** 32 + 5, 1.5, Number.NaN, Infinity];
const I32_BAD = [2 ** 31, -(2 ** 31) - 1, 0.5, Number.NaN];
const fields: Array<[keyof Frame, number[], number[]]> = [
  ['type', [1, 5, 7], [0, 8, 255, 1.5, -1, Number.NaN]],
  ['flags', [0, 1, 0b1111, 255], [256, -1, 1.5, Number.NaN]],
  ['index', [0, 0xfffffffe, NO_PACKET], U32_BAD],
  ['generation', [0, -1, 2 ** 31 - 1, -(2 ** 31)], I32_BAD],
  ['length', [0, MAX_FRAME_LENGTH], [...U32_BAD, MAX_FRAME_LENGTH + 1, 0xffffffff]],
  ['metaLength', [0, MAX_FRAME_LENGTH], [...U32_BAD, MAX_FRAME_LENGTH + 1, 0xffffffff]],
  ['functionId', [0, 1, MAX_FRAME_FUNCTION], [...U32_BAD, -3, MAX_FRAME_FUNCTION + 1, 0xffffffff]],
  ['requestId', [0, 0xffffffff], U32_BAD],
  ['status', [0, 200, 504, MAX_STATUS], [...U32_BAD, MAX_STATUS + 1, 65535]],
  ['metaIndex', [0, NO_PACKET], U32_BAD],
  ['metaGeneration', [0, -(2 ** 31), 2 ** 31 - 1], I32_BAD],
];
for (const [field, good, bad] of fields) {
  t.test(`encodeFrame: ${field} is range-checked, never wrapped`, async (t) => {
    for (const v of good) t.equal(decodeFrame(frameBuffer(frame({ [field]: v })))[field], v, `${field} ${v} round-trips`);
    for (const v of bad) {
      const buf = Buffer.alloc(FRAME_BYTES, 0xee);
      t.throws(() => encodeFrame(frame({ [field]: v }), buf), { code: 'ERANGE', message: new RegExp(`^encodeFrame: ${field} ${String(v).replace('.', '\\.')} is out of range`) }, `${field} ${v} is refused`);
      t.ok(buf.every((b) => b === 0xee), `nothing was written for ${field} ${v}`);
    }
  });
}

t.test('decodeFrame refuses a length, metadata length or function id no packet or function can have; flags are any byte', async (t) => {
  const raw = (at: number, value: number) => {
    const b = frameBuffer(frame());
    b.writeUInt32LE(value, at);
    return b;
  };
  t.throws(() => decodeFrame(raw(12, MAX_FRAME_LENGTH + 1)), { code: 'EBADFRAME', message: `frame length ${MAX_FRAME_LENGTH + 1} is larger than any packet (${MAX_FRAME_LENGTH})` });
  t.throws(() => decodeFrame(raw(12, 0xffffffff)), { code: 'EBADFRAME', message: /frame length 4294967295/ });
  t.equal(decodeFrame(raw(12, MAX_FRAME_LENGTH)).length, MAX_FRAME_LENGTH);
  t.throws(() => decodeFrame(raw(16, MAX_FRAME_LENGTH + 1)), { code: 'EBADFRAME', message: /frame metadata length/ });
  t.equal(decodeFrame(raw(16, MAX_FRAME_LENGTH)).metaLength, MAX_FRAME_LENGTH);
  t.throws(() => decodeFrame(raw(20, MAX_FRAME_FUNCTION + 1)), { code: 'EBADFRAME', message: `frame function id ${MAX_FRAME_FUNCTION + 1} out of range (0..${MAX_FRAME_FUNCTION})` });
  t.throws(() => decodeFrame(raw(20, 4294967293)), { code: 'EBADFRAME', message: /function id 4294967293/ }, 'what function id −3 used to be encoded as');
  t.equal(decodeFrame(raw(20, MAX_FRAME_FUNCTION)).functionId, MAX_FRAME_FUNCTION);
  for (const flags of [0, 1, 8, 0x7f, 0xff]) {
    const b = frameBuffer(frame());
    b.writeUInt8(flags, 3);
    t.equal(decodeFrame(b).flags, flags, `flags 0x${flags.toString(16)}: the runtime owns the bits`);
  }
});
