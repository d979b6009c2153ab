// The light HTTP/1.1 parser that reads plain requests in the gateway, and its hand-over to Node's
// parser for everything else: on raw sockets, so what is tested is the bytes on the wire. Pipelined
// requests, heads and bodies split anywhere, a connection that changes parser between requests,
// and the handler seeing exactly what Node's parser would have given it.
import net from 'node:net';
import t, { type Test } from 'tap';
import { startRuntime, until, type Runtime } from '../helpers/runtime.js';
import { FunctionStats } from '../../src/shm/stats.js';
import { FN_INFLIGHT, FN_REQUESTS } from '../../src/shm/constants.js';

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Splits what a server sent into responses (Content-Length or chunked framing), however it
 * arrived; `used.end` says where the last whole one ends.
 */
function replies(bytes: Buffer, used = { end: 0 }): Reply[] {
  const out: Reply[] = [];
  let at = 0;
  for (;;) {
    used.end = at;
    const end = bytes.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const [status, ...lines] = bytes.toString('latin1', at, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    let body: Buffer;
    if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      let c = end + 4;
      for (;;) {
        const eol = bytes.indexOf('\r\n', c);
        if (eol < 0) return out;
        const size = parseInt(bytes.toString('latin1', c, eol), 16);
        if (bytes.length < eol + 2 + size + 2) return out;
        parts.push(bytes.subarray(eol + 2, eol + 2 + size));
        c = eol + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
      at = c;
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (bytes.length < end + 4 + length) return out;
      body = bytes.subarray(end + 4, end + 4 + length);
      at = end + 4 + length;
    }
    out.push({ status: Number(status.split(' ')[1]), headers, body });
  }
}

/**
 * Sends `parts` on one connection, yielding to the event loop between them, and returns the
 * responses once `count` have arrived (or `count(raw)` says so) (or the server closed; with `untilClosed`, only then).
 * `closed`: whether the server ended the connection.
 */
function converse(port: number, parts: (string | Buffer)[], count: number | ((raw: Buffer) => boolean), untilClosed = false): Promise<{ replies: Reply[]; closed: boolean; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let closed = false;
    const s = net.connect(port, '127.0.0.1', async () => {
      for (const p of parts) {
        if (s.destroyed) break;
        s.write(p);
        await new Promise((r) => setImmediate(r));
      }
    });
    const done = () => {
      s.destroy();
      const raw = Buffer.concat(chunks);
      resolve({ replies: replies(raw), closed, raw });
    };
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      const raw = Buffer.concat(chunks);
      if (!untilClosed && (typeof count === 'number' ? replies(raw).length >= count : count(raw))) setImmediate(() => (s.readableEnded ? undefined : done()));
    });
    s.on('end', () => {
      closed = true;
      done();
    });
    s.on('error', reject);
  });
}

const post = (path: string, body: string | Buffer, extra = '') => Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n`, 'latin1'), Buffer.from(body)]);

async function runtime(t: Test, parser: 'light' | 'node' = 'light'): Promise<Runtime> {
  return startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }, { id: 2, handler: 'test/runtime/fixtures/headers.ts' }], { segmentSize: 64 << 20, parser });
}

t.test('pipelined requests on one connection are answered in order, and the connection stays open', async (t) => {
  const rt = await runtime(t);
  const bodies = ['first', '', 'x'.repeat(5000), 'fourth\r\n\r\nstill the body', 'last'];
  const { replies: got, closed } = await converse(rt.port, [Buffer.concat(bodies.map((b) => post('/function/1', b)))], bodies.length);
  t.same(got.map((r) => r.status), bodies.map(() => 200));
  t.same(got.map((r) => r.body.toString()), bodies, 'each body answered, in the order sent');
  const ids = got.map((r) => Number(r.headers['x-request-id']));
  t.same([...ids].sort((a, b) => a - b), ids, 'request ids in order');
  t.notOk(closed, 'keep-alive: the server did not close the connection');
  t.ok(got.every((r) => r.headers.date && !r.headers.connection && r.headers['keep-alive'] === 'timeout=65'), 'a Date header, how long the connection stays open idle, no "connection: close"');
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('a head and a body that arrive a byte at a time are read whole', async (t) => {
  const rt = await runtime(t);
  const req = post('/function/1?q=1', 'hello, bytes');
  const { replies: got } = await converse(rt.port, [...req].map((b) => Buffer.from([b])), 1);
  t.equal(got[0]?.status, 200);
  t.equal(got[0]?.body.toString(), 'hello, bytes');
});

t.test('a connection changes to Node\'s parser at the first request the light one does not take', async (t) => {
  const rt = await runtime(t);
  const chunked = 'POST /function/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n';
  const { replies: got, closed } = await converse(rt.port, [post('/function/1', 'light'), chunked, post('/function/1', 'node now')], 3);
  t.same(got.map((r) => `${r.status} ${r.body.toString()}`), ['200 light', '200 hello, world', '200 node now'], 'plain, chunked, plain: all answered in order');
  t.notOk(closed);
  // The same with both requests in one write: the hand-over carries the bytes already read.
  const both = await converse(rt.port, [Buffer.concat([post('/function/1', 'one'), Buffer.from(chunked), post('/function/1', 'three')])], 3);
  t.same(both.replies.map((r) => r.body.toString()), ['one', 'hello, world', 'three']);
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('what the light parser does not take is answered by Node\'s parser', async (t) => {
  const rt = await runtime(t);
  const cases: [string, string, number, string | RegExp][] = [
    ['HTTP/1.0', 'POST /function/1 HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc', 200, 'abc'],
    ['Expect: 100-continue', 'POST /function/1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc', 200, 'abc'],
    ['no Host', 'POST /function/1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc', 400, ''],
    ['a space in a header name', 'POST /function/1 HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\nContent-Length: 3\r\n\r\nabc', 400, /bad request/],
    ['a Content-Length that is not a number', 'POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc', 400, /bad request/],
    ['two Content-Lengths', 'POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc', 400, /bad request/],
    ['a lower-case method', 'post /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc', 400, /bad request/],
  ];
  for (const [what, bytes, status, body] of cases) {
    // Expect: Node answers "100 Continue" first; skip it.
    const { replies: got } = await converse(rt.port, [bytes], 1 + (/Expect/.test(bytes) ? 1 : 0));
    const last = got.filter((r) => r.status !== 100).at(-1);
    t.equal(last?.status, status, `${what}: ${status}`);
    t.match(last?.body.toString() ?? '', body, `${what}: its body`);
  }
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('the handler sees the same headers and query whichever parser read the request', async (t) => {
  const light = await runtime(t, 'light');
  const node = await runtime(t, 'node');
  const req = Buffer.concat([
    Buffer.from('POST /function/2?a=1&b=two%20words&a=3 HTTP/1.1\r\nHost: example\r\nX-Mixed-Case: Value  \r\nx-dup: one\r\nX-Dup: two\r\nCookie: a=1\r\ncookie: b=2\r\nX-Latin: caf', 'latin1'),
    Buffer.from([0xe9]),
    Buffer.from('\r\nX-Empty:\r\nX-Tab:\tv\t\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody', 'latin1'),
  ]);
  const seen = async (rt: Runtime) => {
    const { replies: got } = await converse(rt.port, [req], 1);
    t.equal(got[0]?.status, 200);
    return JSON.parse(got[0]?.body.toString() ?? '{}') as Record<string, unknown>;
  };
  const [a, b] = [await seen(light), await seen(node)];
  t.same(a, b, 'identical: headers (duplicates joined, cookies, Latin-1), query and body');
  t.equal((a.headers as Record<string, string>)['x-latin'], 'café');
});

t.test('"Connection: close" and a response that closes end the connection after the answer', async (t) => {
  const rt = await runtime(t);
  const asked = await converse(rt.port, [post('/function/1', 'bye', 'Connection: close\r\n'), post('/function/1', 'never read')], 2, true);
  t.same(asked.replies.map((r) => r.body.toString()), ['bye'], 'one answer, the request after it is not read');
  t.equal(asked.replies[0]?.headers.connection, 'close');
  t.ok(asked.closed, 'the server closed the connection');
  // 413 is refused before its body is read: the connection closes rather than take the upload.
  const big = await converse(rt.port, [`POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: ${1 << 30}\r\n\r\nabc`], 1, true);
  t.equal(big.replies[0]?.status, 413);
  t.ok(big.closed);
});

t.test('a response to HEAD has a head only, and the next response follows it at once', async (t) => {
  const rt = await runtime(t);
  const { raw } = await converse(rt.port, ['HEAD /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n', post('/function/1', 'after')], (raw) => raw.toString('latin1').endsWith('after'));
  const text = raw.toString('latin1');
  const first = text.indexOf('\r\n\r\n');
  t.match(text.slice(0, first), /^HTTP\/1\.1 404 .*\r\ncontent-length: [1-9]/is, 'the HEAD answer: 404 with the length its body would have');
  t.match(text.slice(first + 4), /^HTTP\/1\.1 200 /, 'no body after it: the next response starts right there');
  t.ok(text.endsWith('\r\n\r\nafter'));
});

t.test('a client that leaves in the middle of a body gets nothing, and its packet goes back', async (t) => {
  const rt = await runtime(t);
  const stats = new FunctionStats(rt.runtime, 0);
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(rt.port, '127.0.0.1', () => {
      s.write('POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
      s.write(Buffer.alloc(1000, 1), () => {
        until(() => rt.inUse() > 0, 5000, 'the body packet to be taken').then(() => {
          s.destroy();
          resolve();
        }, reject);
      });
    });
    s.on('error', reject);
  });
  await until(() => rt.inUse() === 0, 5000, 'the packet back');
  await until(() => stats.get(1, FN_INFLIGHT) === 0, 5000, 'nothing in flight');
  t.pass('packet freed, nothing in flight');
});

t.test('clients that leave at any moment of their request leave no packet and nothing in flight', async (t) => {
  const rt = await runtime(t);
  const stats = new FunctionStats(rt.runtime, 0);
  // Each client sends a request and leaves after 0..7 turns of its event loop: some before the
  // body is in, some while the handler runs, some while the answer is being written.
  const body = Buffer.alloc(2000, 7);
  await Promise.all(Array.from({ length: 400 }, (_, i) => new Promise<void>((resolve) => {
    const s = net.connect(rt.port, '127.0.0.1', async () => {
      s.write(post('/function/1', body));
      for (let k = 0; k < i % 8; k++) await new Promise((r) => setImmediate(r));
      s.resetAndDestroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  })));
  await until(() => stats.get(1, FN_INFLIGHT) === 0, 10_000, 'nothing in flight');
  await until(() => rt.inUse() === 0, 10_000, 'every packet back');
  t.pass('all answered or dropped, every packet freed');
});

t.test('a client that sends requests but reads no answers makes the gateway stop reading', async (t) => {
  const rt = await runtime(t);
  const stats = new FunctionStats(rt.runtime, 0);
  const count = 300;
  const body = Buffer.alloc(64 * 1024, 3);
  const s = net.connect(rt.port, '127.0.0.1');
  t.teardown(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  s.pause();
  for (let i = 0; i < count; i++) s.write(post('/function/1', body));
  // Wait until the gateway stops making progress (no answer counted over a second), then look.
  let last = -1;
  let same = 0;
  while (same < 10) {
    await new Promise((r) => setTimeout(r, 100));
    const n = stats.get(1, FN_REQUESTS);
    same = n === last ? same + 1 : 0;
    last = n;
  }
  t.ok(last < count / 2, `the gateway stopped taking requests (${last} of ${count} answered while the client read nothing)`);
  t.ok(rt.inUse() < count / 2, `packets held for unread answers stay bounded (${rt.inUse()})`);
  // The client reads: every answer arrives, in order, and every packet comes back.
  let got = 0;
  let pending = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      const used = { end: 0 };
      got += replies(pending, used).filter((x) => x.status === 200 && x.body.equals(body)).length;
      pending = pending.subarray(used.end);
      if (got === count) resolve();
    });
    s.resume();
  });
  t.equal(got, count, 'every answer, whole');
  await until(() => rt.inUse() === 0, 10_000, 'every packet back');
});
