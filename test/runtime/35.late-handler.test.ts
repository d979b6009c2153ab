// A handler that outlives its timeout still holds views onto its packets: they must stay its
// container's until it settles, or a late write lands in another request's body.
import crypto from 'node:crypto';
import t from 'tap';
import { startRuntime, until } from '../helpers/runtime.js';
import { json, post } from '../helpers/http.js';
import type { ChildMessage } from '../../src/runtime/protocol.js';
import { LATE_HANDLER_LIMIT } from '../../src/runtime/container/late.js';

t.test('late writes after a timeout never reach another request; the packets come back when the handler settles', async (t) => {
  const rt = await startRuntime(t, [
    { id: 1, handler: 'test/runtime/fixtures/late-writer.ts', timeoutMs: 150, concurrency: 16 },
    { id: 2, handler: 'functions/echo.ts', concurrency: 16 },
  ]);
  const late = Array.from({ length: 6 }, () => post(rt.port, '/function/1?ms=500', crypto.randomBytes(2000)));
  const answered = await Promise.all(late);
  t.same(answered.map((r) => r.status), Array(6).fill(504), 'each late request is answered 504 at its timeout');
  t.match(json(answered[0]).error, /timed out after 150 ms/);
  t.ok(rt.inUse() >= 6, `the late handlers' request packets are still held (${rt.inUse()} in use)`);
  const owners = new Set(rt.seg.pool.held().map((p) => p.owner));
  t.ok(owners.has(rt.containers[0].pid), 'held by the container that runs the late handlers');

  // Same size class as the late handlers' packets, while they wake up and write.
  let corrupt = 0;
  let sent = 0;
  const until_ = Date.now() + 700;
  const client = async () => {
    while (Date.now() < until_) {
      const body = crypto.randomBytes(2000);
      const r = await post(rt.port, '/function/2', body);
      sent++;
      if (r.status !== 200 || !r.body.equals(body)) corrupt++;
    }
  };
  await Promise.all([client(), client(), client(), client()]);
  t.equal(corrupt, 0, `${sent} echo requests during the late writes, none corrupted`);
  await until(() => rt.inUse() === 0, 10_000, 'the late packets are freed once the handlers settle');
  const after = await post(rt.port, '/function/1?ms=0', 'fine');
  t.equal(after.status, 200, 'the function still serves');
});

t.test(`a replica with ${LATE_HANDLER_LIMIT} handlers stuck past their timeout asks to be replaced`, async (t) => {
  const rt = await startRuntime(t, [{ id: 3, handler: 'test/runtime/fixtures/hangs.ts', timeoutMs: 100, concurrency: 16 }]);
  const c = rt.containers[0];
  const asked = new Promise<ChildMessage>((resolve) => c.messages.on('message', (m: ChildMessage) => m.type === 'replace-me' && resolve(m)));
  const hung = await Promise.all(Array.from({ length: LATE_HANDLER_LIMIT }, () => post(rt.port, '/function/3', 'x')));
  t.same(hung.map((r) => r.status), Array(LATE_HANDLER_LIMIT).fill(504));
  const m = await asked;
  t.match(m, { type: 'replace-me', pid: c.pid, reason: new RegExp(`${LATE_HANDLER_LIMIT} handlers are still running past their 100 ms timeout`) });
  // The gateway lets go of a timed-out request's packet a moment after its 504 went out; on a busy
  // machine that moment can come after the container's message.
  const holders = () => rt.seg.pool.held().map((p) => p.owner).join(', ');
  await until(() => rt.inUse() === LATE_HANDLER_LIMIT, 5000, `one packet per stuck handler (held by: ${holders()})`).catch(() => undefined);
  t.equal(rt.inUse(), LATE_HANDLER_LIMIT, `one request packet per stuck handler, and nothing else (held by: ${holders()})`);
  await rt.stop(c);
  t.equal(rt.seg.pool.reclaim(c.pid), LATE_HANDLER_LIMIT, 'they were the container\'s: reclaimed when it is gone');
});
