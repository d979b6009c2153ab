// What a client sees at the edges: a request id on every answer, the handler's view of the
// request, functions by name, refusals counted, "Expect: 100-continue", and uploads that stall.
import net from 'node:net';
import t from 'tap';
import { startRuntime, until } from '../helpers/runtime.js';
import { json, post, request, type HttpResult } from '../helpers/http.js';
import { FunctionStats } from '../../src/shm/stats.js';
import { FN_2XX, FN_4XX, FN_5XX, FN_INFLIGHT, FN_REQUESTS } from '../../src/shm/constants.js';

/** Writes raw bytes, returns everything the server sent until it closed (or waitMs passed). */
function raw(port: number, parts: (string | Buffer)[], gapMs = 0, waitMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', async () => {
      for (const p of parts) {
        if (s.destroyed) break;
        s.write(p);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    setTimeout(() => s.destroy(), waitMs);
  });
}

t.test('every answer carries its own request id, errors included, and ctx sees the same one', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/ctx-probe.ts' }], { segmentSize: 64 << 20, classes: [{ size: 4096 }, { size: 65536 }, { size: 1 << 20 }] });
  const answers: [string, HttpResult][] = [
    ['ok', await post(rt.port, '/function/1?w=64', 'hello', { 'content-type': 'text/plain', 'x-custom': 'abc' })],
    ['by name', await post(rt.port, '/function/fn1', 'x')],
    ['unknown function', await post(rt.port, '/function/9', 'x')],
    ['unknown name', await post(rt.port, '/function/nope', 'x')],
    ['not a name', await post(rt.port, '/function/%zz', 'x')],
    ['wrong method', await request(rt.port, 'GET', '/function/1')],
    ['too large', await request(rt.port, 'POST', '/function/1', Buffer.alloc((1 << 20) + 1), {}, { agent: false })],
  ];
  const ids = answers.map(([what, r]) => {
    t.match(r.headers['x-request-id'], /^\d+$/, `${what} (${r.status}) has an x-request-id`);
    if (r.status !== 200) t.equal(json(r).requestId, Number(r.headers['x-request-id']), `${what}: the JSON body names the same id`);
    return r.headers['x-request-id'];
  });
  t.equal(new Set(ids).size, ids.length, 'all different');
  t.same(answers.map(([, r]) => r.status), [200, 200, 404, 404, 404, 405, 413]);
  t.equal(json(answers[1][1]).functionId, 1, '/function/<name> calls the function of that name');
  t.match(json(answers[3][1]), { error: "no function named 'nope': call /function/<id> or /function/<name>", functions: [{ id: 1, name: 'fn1' }] }, 'an unknown name lists the functions');

  const ok = answers[0][1];
  const seen = json(ok);
  t.match(seen, { functionId: 1, requestId: Number(ok.headers['x-request-id']), contentType: 'text/plain', custom: 'abc', w: '64', length: 5, first: 'h'.charCodeAt(0) });
  t.same([seen.bufferBytes, seen.byteOffset], [5, 0], 'the handler\'s input.buffer is exactly its 5 bytes, at offset 0');
  t.equal(ok.headers['x-probe'], 'yes', 'a header set through ctx reaches the client');
});

t.test('refused requests are counted: requests = 2xx + 4xx + 5xx for the function', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }], { segmentSize: 64 << 20, classes: [{ size: 4096 }, { size: 65536 }, { size: 1 << 20 }] });
  await post(rt.port, '/function/1', 'fine');
  await request(rt.port, 'POST', '/function/1', Buffer.alloc((1 << 20) + 1), {}, { agent: false });
  // A client that leaves mid-body gets no answer and is not counted; its packet comes back.
  await raw(rt.port, ['POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345'], 0, 300);
  const stats = new FunctionStats(rt.runtime);
  await until(() => stats.get(1, FN_INFLIGHT) === 0, 10_000, 'nothing in flight');
  const [req, ok, c4, c5] = [FN_REQUESTS, FN_2XX, FN_4XX, FN_5XX].map((c) => stats.get(1, c));
  t.equal(ok, 1);
  t.equal(c4, 1, 'the 413 is a 4xx');
  t.equal(req, ok + c4 + c5, `requests ${req} = ${ok} + ${c4} + ${c5}`);
  t.equal(rt.inUse(), 0);
});

t.test('Expect: 100-continue is answered only for a body the gateway will take', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }], { segmentSize: 64 << 20, classes: [{ size: 4096 }, { size: 65536 }, { size: 1 << 20 }] });
  const refused = await raw(rt.port, [`POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: ${(1 << 20) + 1}\r\nExpect: 100-continue\r\n\r\n`], 0, 1000);
  t.match(refused, /^HTTP\/1\.1 413 /, 'straight to 413');
  t.notMatch(refused, /100 Continue/, 'no invitation to upload a body that would be refused');
  const taken = await raw(rt.port, ['POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n', 'hello'], 200, 1500);
  t.match(taken, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK[\s\S]*\r\n\r\nhello$/);
});

t.test('an upload that stalls past gateway.requestTimeout gets 408 and its packet back', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }], { requestTimeoutMs: 600 });
  const stalled = raw(rt.port, ['POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n', Buffer.alloc(1000, 1)], 0, 30_000);
  await until(() => rt.inUse() === 1, 10_000, 'the stalled upload holds its packet');
  t.equal((await post(rt.port, '/function/1', 'others are served')).body.toString(), 'others are served');
  const out = await stalled;
  t.match(out, /^HTTP\/1\.1 408 /, 'the gateway times the upload out');
  await until(() => rt.inUse() === 0, 10_000, 'its packet is free again');
});
