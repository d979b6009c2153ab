// A function with no replica (scaled to zero) on a real gateway, the test playing the supervisor
// and the container on real sockets: the gateway that queues a request for it says so at once
// (`demand`, at most one per function every 50 ms), and the container's link gets the waiting
// request as soon as it arrives, before the container's hello (it reads it once its handler is
// loaded). A container that closes its link before its hello fails what it was sent with 502 and
// keeps nothing; a real container started next answers the next request.
import t from 'tap';
import net from 'node:net';
import { startRuntime, until } from '../helpers/runtime.js';
import { post } from '../helpers/http.js';
import { FRAME_BYTES, FrameType, NO_PACKET, decodeFrame, encodeFrame, type Frame } from '../../src/shm/frame.js';
import type { LinkedContainer } from '../../src/runtime/links.js';
import { fakeLink } from '../helpers/fake-link.js';

const hello: Frame = { type: FrameType.Hello, flags: 0, index: 0, generation: 1, length: 0, metaLength: 0, functionId: 1, requestId: 0, status: 0, metaIndex: NO_PACKET, metaGeneration: 0 };

/** The frames the gateway writes on `s`, as they come. */
function framesOf(s: net.Socket): Frame[] {
  const got: Frame[] = [];
  let buf = Buffer.alloc(0);
  s.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (; buf.length >= FRAME_BYTES; buf = buf.subarray(FRAME_BYTES)) got.push(decodeFrame(buf, 0));
  });
  s.on('error', () => undefined);
  return got;
}

t.test('at zero: demand at once, the waiting request on the new link before its hello, 502 if it closes first', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/whoami.ts', replicas: 0, concurrency: 2 }]);
  const demands: unknown[] = [];
  rt.gateway.child.on('message', (m: { type?: string }) => m.type === 'demand' && demands.push(m));

  const waiting = [post(rt.port, '/function/1', 'a'), post(rt.port, '/function/1', 'b'), post(rt.port, '/function/1', 'c')];
  await until(() => rt.inUse() >= 3 && demands.length > 0, 10_000, 'three requests queued and a demand');
  // One per 50 ms at most: three requests sent together make one, or a few on a slow machine.
  t.ok(demands.length >= 1 && demands.length <= 3, `the gateway asked for a replica (${demands.length} demand message(s))`);
  t.same(new Set(demands.map((m) => JSON.stringify(m))), new Set([JSON.stringify({ type: 'demand', functionId: 1 })]), 'each names the function and nothing else');

  const who: LinkedContainer = { pid: 515151, functionId: 1, deployment: 1, replica: 0, domain: 0 };
  const early = await fakeLink(rt, who);
  const got = framesOf(early);
  await until(() => got.length >= 2, 10_000, 'requests on the new link');
  t.same(got.map((f) => [f.type, f.functionId]), [[FrameType.Request, 1], [FrameType.Request, 1]], 'up to its concurrency (2) of the waiting requests, before any hello');

  // It never says hello: it closes (its handler failed to load, say). What it was sent fails; the
  // third request still waits for a replica.
  early.destroy();
  const failed = await Promise.all(waiting.slice(0, 2));
  t.same(failed.map((r) => r.status), [502, 502], 'the two it was sent fail with 502');

  const real = await rt.startContainer(1, 0);
  const last = await waiting[2];
  t.equal(last.status, 200, 'the third is answered by the real container');
  t.equal(last.body.toString(), String(real.pid), 'by that container');
  const next = await post(rt.port, '/function/1', 'd');
  t.equal(next.status, 200, 'and the next one too');
  await until(() => rt.inUse() === 0, 10_000, 'every packet freed');
  t.equal(rt.gateway.child.exitCode, null, 'gateway alive');
});

t.test('a link that says hello after its early requests serves them like any replica', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/whoami.ts', replicas: 0, concurrency: 1 }]);
  const waiting = post(rt.port, '/function/1', 'a');
  await until(() => rt.inUse() >= 1, 10_000, 'the request queued');
  const who: LinkedContainer = { pid: 525252, functionId: 1, deployment: 1, replica: 0, domain: 0 };
  const link = await fakeLink(rt, who);
  const got = framesOf(link);
  await until(() => got.length >= 1, 10_000, 'the request on the new link');
  const b = Buffer.alloc(FRAME_BYTES * 2);
  encodeFrame({ ...hello, index: who.pid }, b, 0);
  // A status-only reply (no packet), as a container sends when it refuses a request.
  encodeFrame({ ...got[0], type: FrameType.Reply, index: NO_PACKET, generation: 0, length: 0, metaLength: 0, metaIndex: NO_PACKET, metaGeneration: 0, status: 503 }, b, FRAME_BYTES);
  link.write(b);
  const r = await waiting;
  t.equal(r.status, 503, 'its reply answers the request');
  await until(() => got.some((f) => f.type === FrameType.Hello), 10_000, 'the gateway\'s hello back');
  link.destroy();
  await until(() => rt.inUse() === 0, 10_000, 'every packet freed');
});
