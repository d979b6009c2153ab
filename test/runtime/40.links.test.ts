// The gateway's links to containers: handed over by whoever started the container (here the test,
// playing the supervisor), so there is no socket anyone else could connect to. The test then plays a
// broken or lying container on a real socket pair: garbage, a truncated frame, a hello as someone
// else, a forged reply naming another request's packet. Each closes or is ignored on that link
// alone; the gateway and the real container keep serving and nothing leaks.
import t from 'tap';
import net from 'node:net';
import { READY_TIMEOUT_MS, startRuntime, until } from '../helpers/runtime.js';
import { post } from '../helpers/http.js';
import { FRAME_BYTES, FrameType, NO_PACKET, encodeFrame, type Frame } from '../../src/shm/frame.js';
import { HELLO_GRACE_MS } from '../../src/runtime/proxy/links.js';
import type { LinkedContainer } from '../../src/runtime/links.js';
import { fakeLink } from '../helpers/fake-link.js';

const base: Frame = { type: FrameType.Hello, flags: 0, index: 0, generation: 1, length: 0, metaLength: 0, functionId: 1, requestId: 0, status: 0, metaIndex: NO_PACKET, metaGeneration: 0 };

/** Resolves when the gateway closes `s`; rejects if it stays open. */
function closedWithin(s: net.Socket, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('link still open')), ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.on('error', () => undefined);
    s.resume();
  });
}

function frames(...fs: Frame[]): Buffer {
  const b = Buffer.alloc(FRAME_BYTES * fs.length);
  fs.forEach((f, i) => encodeFrame(f, b, i * FRAME_BYTES));
  return b;
}

t.test('a broken or lying container closes its own link only; the gateway keeps serving', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/whoami.ts' }]);
  const who: LinkedContainer = { pid: 424242, functionId: 1, deployment: 1, replica: 7, domain: 0 };
  // What the gateway tells its supervisor (here the test) about each link it dropped.
  const reports: { pid: number; reason: string; closed?: boolean }[] = [];
  rt.gateway.child.on('message', (m: { type?: string; pid: number; reason: string; closed?: boolean }) => m.type === 'replica-bad' && reports.push(m));

  const garbage = await fakeLink(rt, who);
  garbage.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n' + 'x'.repeat(100)));
  await closedWithin(garbage, 3000);
  t.pass('garbage bytes: link closed');

  const truncated = await fakeLink(rt, who);
  truncated.end(frames({ ...base, index: who.pid }).subarray(0, 20));
  await closedWithin(truncated, 3000);
  t.pass('truncated frame: link closed');

  const stalled = await fakeLink(rt, who);
  stalled.write(frames({ ...base, index: who.pid }).subarray(0, 20));
  await closedWithin(stalled, READY_TIMEOUT_MS + HELLO_GRACE_MS + 3000);
  t.pass('half a hello, link kept open: closed after the hello timeout');

  // The link was made for function 1 replica 7 (pid 424242): a hello claiming another function is
  // someone posing as a container it is not.
  const impostor = await fakeLink(rt, who);
  impostor.write(frames({ ...base, index: who.pid, functionId: 2, requestId: 7 }));
  await closedWithin(impostor, 3000);
  t.pass('a hello as another function: link closed');

  const wrongPid = await fakeLink(rt, who);
  wrongPid.write(frames({ ...base, index: rt.containers[0].pid, requestId: 7 }));
  await closedWithin(wrongPid, 3000);
  t.pass('a hello with another process\'s pid: link closed');

  const liar = await fakeLink(rt, who);
  liar.write(frames({ ...base, index: who.pid, requestId: 7 }, { ...base, type: FrameType.Request, index: 0, generation: 1, requestId: 7 }));
  await closedWithin(liar, 3000);
  t.pass('a request frame from a container (they never send those): link closed');

  // A well-introduced link (of an older deployment, so no request is routed to it) that replies to
  // requests it never got, naming the packets of a request the gateway has in flight: ignored,
  // nothing of that request is freed under it.
  const forger = await fakeLink(rt, { ...who, deployment: 0 });
  forger.on('error', () => undefined);
  forger.resume();
  forger.write(frames({ ...base, index: who.pid, generation: 0, requestId: 7 }));
  const slow = post(rt.port, '/function/1?ms=300', 'x'.repeat(3000));
  await until(() => rt.inUse() > 0, 10_000, 'request in flight');
  const held = rt.seg.pool.held();
  forger.write(frames(...held.map((h): Frame => ({ ...base, type: FrameType.Reply, index: h.index, generation: h.generation, length: 10, requestId: 999999, status: 200 }))));
  await new Promise((r) => setTimeout(r, 100));
  forger.destroy();
  const r = await slow;
  t.equal(r.status, 200, 'the real request was answered');

  // Each broken link is reported so the supervisor replaces that container; a link closed by its
  // own end before any hello (truncated) is not: there was never a replica to route to.
  await until(() => reports.length >= 6, 10_000, 'the reports');
  const violations = reports.filter((r) => !r.closed);
  t.same(violations.map((r) => r.pid), Array(5).fill(who.pid), `garbage, no hello in time, two impostors and a request frame are reported: ${violations.map((r) => r.reason).join('; ')}`);
  t.match(violations[1].reason, /no hello frame within/, 'the one that never finished its hello');
  t.same(reports.filter((r) => r.closed).map((r) => r.pid), [who.pid], 'and the introduced link its container closed while being routed to');

  const after = await post(rt.port, '/function/1', 'still serving');
  t.equal(after.status, 200);
  t.equal(rt.gateway.child.exitCode, null, 'gateway alive');
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
});
