// A container's reply waits for packet memory when its domain is short (the gateways free what the
// requests hold as they answer): here on a real segment in one process, the reply's packet comes
// when another is freed; past the request's deadline the reply is a 503 without a packet, and
// both are counted in the domain segment. ctx.output() cannot wait (it is synchronous): short, it
// hands out heap bytes, and the reply made from them waits the same way.
import t, { type Test } from 'tap';
import { FrameType, NO_PACKET, isExhausted, type Descriptor, type Frame } from '../../src/shm/index.js';
import { finish, packetReply } from '../../src/runtime/container/reply.js';
import { RequestContext } from '../../src/runtime/container/context.js';
import { tempSegment } from '../helpers/segments.js';

const KiB = 1024;
const request: Frame = { type: FrameType.Request, flags: 0, index: 0, generation: 1, length: 0, metaLength: 0, functionId: 1, requestId: 7, status: 0, metaIndex: NO_PACKET, metaGeneration: 0 };

/** A domain of `budget` bytes with all of it held in 64 KiB packets: returned to free later. */
function fullDomain(t: Test, budget: number) {
  const seg = tempSegment(t, { size: 8 << 20, budget, classes: [{ size: 4096, count: 64 }, { size: 65536, count: 64 }] });
  const held: Descriptor[] = [];
  for (;;) {
    const d = seg.pool.alloc(65536);
    if (isExhausted(d)) break;
    held.push(d);
  }
  return { seg, held };
}

t.test('a reply waits for a packet until one is freed, then goes out in it', async (t) => {
  const { seg, held } = fullDomain(t, 256 * KiB);
  const body = Buffer.alloc(10_000, 0x5a);
  const made = finish(seg.pool, request, { status: 200, headers: undefined, body, packet: undefined }, process.pid, { deadline: performance.now() + 30_000 });
  t.ok(made instanceof Promise, 'the domain is short: the reply waits');
  await new Promise((r) => setTimeout(r, 50));
  t.match(seg.pool.memory(), { waits: 1, refusals: 0 }, 'counted as a wait in the domain');
  seg.pool.free(held.pop()!);
  const frame = await made;
  t.not(frame.index, NO_PACKET, 'then it has its packet');
  t.equal(frame.length, body.length);
  t.ok(Buffer.from(seg.pool.view(seg.pool.describe(frame.index, frame.generation), body.length)).equals(body), 'holding the reply');
  t.equal(seg.pool.owner(seg.pool.describe(frame.index, frame.generation)), process.pid, 'handed to the gateway (here: this process)');
});

t.test('past the request\'s deadline the reply is a 503 without a packet, counted as a refusal', async (t) => {
  const { seg } = fullDomain(t, 256 * KiB);
  const frame = await finish(seg.pool, request, { status: 200, headers: undefined, body: 'x'.repeat(5000), packet: undefined }, process.pid, { deadline: performance.now() + 100 });
  t.match(frame, { index: NO_PACKET, status: 503 });
  t.match(seg.pool.memory(), { waits: 1, refusals: 1 });
});

t.test('ctx.output() in a short domain hands out heap bytes; the reply made of them waits for a packet', async (t) => {
  const { seg, held } = fullDomain(t, 256 * KiB);
  const ctx = new RequestContext(seg.pool, 1, 7, new Uint8Array(0), new Uint8Array(0), held[0]);
  const out = ctx.output(20_000);
  t.equal(out.bytes.length, 20_000, 'the bytes asked for');
  t.same(out.packet, { segment: '', index: -1, offset: -1, length: 20_000 }, 'in no packet (yet)');
  out.bytes.fill(7);
  const reply = packetReply(out.end(20_000), ctx, new ArrayBuffer(0), held[0]);
  t.equal(reply.packet, undefined, 'the reply is copied into a packet when it is sent');
  const made = finish(seg.pool, request, reply, process.pid, { deadline: performance.now() + 30_000 });
  seg.pool.free(held.pop()!);
  const frame = await made;
  t.not(frame.index, NO_PACKET);
  t.ok(seg.pool.view(seg.pool.describe(frame.index, frame.generation), 20_000).every((b) => b === 7), 'the heap bytes, copied');
  ctx.releaseViews(undefined);
  t.equal(out.bytes.length, 0, 'and the handler\'s view of them is detached with the request');
});
