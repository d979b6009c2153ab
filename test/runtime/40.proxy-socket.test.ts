import t from 'tap';
import net from 'node:net';
import path from 'node:path';
import { startRuntime, until } from '../helpers/runtime.js';
import { post } from '../helpers/http.js';
import { FRAME_BYTES, FrameType, NO_PACKET, encodeFrame, type Frame } from '../../src/shm/frame.js';
import { HELLO_TIMEOUT_MS } from '../../src/runtime/proxy/server.js';

function connect(sock: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock, () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves when the peer closes `s` (the proxy dropped it); rejects if it stays open. */
function closedWithin(s: net.Socket, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connection still open')), ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.on('error', () => undefined);
    s.resume();
  });
}

const base: Frame = { type: FrameType.Hello, flags: 0, index: 0, generation: 99, length: 0, metaLength: 0, functionId: 1, requestId: 0, status: 0, metaIndex: NO_PACKET, metaGeneration: 0 };

/** Connects as a container (hello) and sends one more frame. */
async function helloThen(sock: string, next: Partial<Frame>): Promise<net.Socket> {
  const s = await connect(sock);
  const two = Buffer.alloc(FRAME_BYTES * 2);
  encodeFrame({ ...base, index: 424243 }, two, 0);
  encodeFrame({ ...base, ...next }, two, FRAME_BYTES);
  s.write(two);
  return s;
}

t.test('garbage and truncated frames on the proxy socket drop that connection only', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }]);
  const sock = path.join(rt.dir, 'proxy.sock');

  const garbage = await connect(sock);
  garbage.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n' + 'x'.repeat(100)));
  await closedWithin(garbage, 3000);
  t.pass('garbage bytes: dropped');

  const truncated = await connect(sock);
  const f = Buffer.alloc(FRAME_BYTES);
  encodeFrame({ ...base, index: 424242 }, f);
  truncated.end(f.subarray(0, 20));
  await closedWithin(truncated, 3000);
  t.pass('truncated frame: dropped');

  // Half a hello that is never finished, connection left open: dropped after the hello timeout.
  const stalled = await connect(sock);
  stalled.write(f.subarray(0, 20));
  const t0 = Date.now();
  await closedWithin(stalled, HELLO_TIMEOUT_MS + 2000);
  t.ok(Date.now() - t0 >= HELLO_TIMEOUT_MS - 200, `truncated frame, socket kept open: dropped after ${Date.now() - t0} ms`);

  // A well-formed hello followed by a request frame (containers never send those): dropped.
  const liar = await helloThen(sock, { type: FrameType.Request, index: 0, generation: 1, requestId: 7, status: 0 });
  await closedWithin(liar, 3000);
  t.pass('unexpected frame type: dropped');

  // A reply for a request that does not exist, pointing at a random packet: ignored safely.
  const forger = await helloThen(sock, { type: FrameType.Reply, index: 3, generation: 12345, length: 10, requestId: 999999, status: 200 });
  await new Promise((r) => setTimeout(r, 100));
  forger.destroy();

  const r = await post(rt.port, '/function/1', 'still serving');
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'still serving');
  t.equal(rt.gateway.child.exitCode, null, 'gateway alive');
  await until(() => rt.seg.pool.inUse() === 0, 2000, 'pool empty');
});
