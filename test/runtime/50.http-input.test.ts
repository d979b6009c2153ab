import t from 'tap';
import net from 'node:net';
import { startRuntime, until } from '../helpers/runtime.js';
import { json, post, request } from '../helpers/http.js';

/** Sends raw bytes and returns whatever the server answers before closing. */
function raw(port: number, data: string, waitMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    setTimeout(() => s.destroy(), waitMs);
  });
}

t.test('malformed HTTP gets the right status or a clean close, and nothing leaks', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }], { segmentSize: 64 << 20, classes: [{ size: 4096 }, { size: 65536 }, { size: 1 << 20 }] });

  const unknown = await post(rt.port, '/function/9', 'x');
  t.equal(unknown.status, 404);
  t.match(json(unknown).error, /no function with id 9/);
  t.same(json(unknown).functions, [{ id: 1, name: 'fn1' }]);

  const badId = await post(rt.port, '/function/abc', 'x');
  t.equal(badId.status, 404);
  t.match(json(badId).error, /no function named 'abc': call \/function\/<id> or \/function\/<name>/);

  const get = await request(rt.port, 'GET', '/function/1');
  t.equal(get.status, 405);
  t.equal(get.headers.allow, 'POST');

  const other = await request(rt.port, 'GET', '/nope');
  t.equal(other.status, 404);

  const health = await request(rt.port, 'GET', '/healthz');
  t.equal(health.status, 200);
  t.equal(json(health).status, 'ok');

  const big = Buffer.alloc((1 << 20) + 1);
  const tooBig = await request(rt.port, 'POST', '/function/1', big, {}, { agent: false });
  t.equal(tooBig.status, 413);
  t.match(json(tooBig).error, /larger than the largest packet \(1048576 bytes\)/);

  const chunkedTooBig = await new Promise<number>((resolve) => {
    const s = net.connect(rt.port, '127.0.0.1', () => {
      s.write('POST /function/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = Buffer.alloc(300_000, 1);
      for (let i = 0; i < 4; i++) {
        s.write(`${chunk.length.toString(16)}\r\n`);
        s.write(chunk);
        s.write('\r\n');
      }
      s.write('0\r\n\r\n');
    });
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(Number(out.split(' ')[1])));
    s.on('error', () => resolve(Number(out.split(' ')[1])));
  });
  t.equal(chunkedTooBig, 413, 'a chunked body that outgrows the largest class: 413');

  const chunked = await raw(rt.port, 'POST /function/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
  t.match(chunked, /^HTTP\/1.1 200/);
  t.match(chunked, /hello world$/);

  const badLength = await raw(rt.port, 'POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello');
  t.match(badLength, /^HTTP\/1.1 400/);

  const garbage = await raw(rt.port, '\x00\x01\x02 nonsense\r\n\r\n');
  t.match(garbage, /^HTTP\/1.1 400/);

  // Client gone mid-body: the partial packet is freed.
  await raw(rt.port, 'POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(5000), 200);
  await until(() => rt.inUse() === 0, 10_000, 'pool empty after a client vanished mid-body');

  const ok = await post(rt.port, '/function/1', 'fine');
  t.equal(ok.body.toString(), 'fine');
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
  t.equal(rt.gateway.child.exitCode, null, 'gateway alive');
});

t.test('queue and pool exhaustion answer 503 with Retry-After and leak nothing', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/whoami.ts', concurrency: 1 }], { queueLimit: 2, segmentSize: 16 << 20, segmentWaitMs: 200, classes: [{ size: 4096, count: 8 }, { size: 65536, count: 2 }] });
  const rs = await Promise.all(Array.from({ length: 6 }, () => post(rt.port, '/function/1?ms=300', 'x')));
  const statuses = rs.map((r) => r.status).sort();
  t.same(statuses, [200, 200, 200, 503, 503, 503], 'one running + two queued succeed, the rest are refused');
  for (const r of rs.filter((x) => x.status === 503)) t.equal(r.headers['retry-after'], '1');
  // Memory: the two 64 KiB packets are all the domain has (a 160 KiB budget, 96 KiB of it for
  // requests), three 50 KB bodies at once, each held 1 s: the ones that wait longer than
  // segment.wait (200 ms) are refused, naming what they waited for.
  const big = Buffer.alloc(50_000, 7);
  const held = await Promise.all(Array.from({ length: 3 }, () => post(rt.port, '/function/1?ms=1000', big)));
  const short = held.filter((r) => r.status === 503);
  t.ok(short.length >= 1 && short.length <= 2, `memory short past segment.wait is a 503 (${short.length} of 3)`);
  for (const r of short) {
    t.match(json(r).error, /^domain fn1 is short of packet memory: 64\.0 KiB asked, [\d.]+ KiB free of the 96\.0 KiB requests may hold \(its 160\.0 KiB budget less 64\.0 KiB kept for replies\) after waiting \d+ ms \(segment\.wait 200 ms\): retry shortly, or raise segment\.size \(16\.0 MiB, split over the domains\)$/);
    t.equal(r.headers['retry-after'], '1');
  }
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
});
