import t from 'tap';
import net from 'node:net';
import { startRuntime, startedMarks, until } from '../helpers/runtime.js';
import { post, request } from '../helpers/http.js';

t.test('SIGTERM to a container: it finishes its in-flight work, exits 0, and no request fails', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/whoami.ts', replicas: 2, concurrency: 2 }]);
  const victim = rt.containers[0];
  const marks = startedMarks(t);
  const inflight = Array.from({ length: 8 }, () => post(rt.port, `/function/1?ms=300&${marks.query}`, 'x'));
  // Both replicas busy (two handlers each), the rest queued.
  await marks.running(4);
  const exit = new Promise<number | null>((r) => victim.child.once('exit', (code) => r(code)));
  victim.child.kill('SIGTERM');
  const rs = await Promise.all(inflight);
  t.same(rs.map((r) => r.status), rs.map(() => 200), 'every request answered 200');
  t.equal(await exit, 0, 'the container exited 0');
  t.equal((await post(rt.port, '/function/1', 'x')).status, 200, 'the other replica serves on');
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
});

t.test('SIGINT (Ctrl-C) to a container drains it like SIGTERM', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/whoami.ts', replicas: 1, concurrency: 4 }]);
  const victim = rt.containers[0];
  const marks = startedMarks(t);
  const inflight = Array.from({ length: 4 }, () => post(rt.port, `/function/1?ms=300&${marks.query}`, 'x'));
  await marks.running(4);
  const exit = new Promise<number | null>((r) => victim.child.once('exit', (code) => r(code)));
  victim.child.kill('SIGINT');
  const rs = await Promise.all(inflight);
  t.same(rs.map((r) => r.status), [200, 200, 200, 200], 'its in-flight requests are answered');
  t.equal(await exit, 0, 'it exits 0');
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
});

t.test('SIGTERM to the gateway: in-flight requests complete, it exits 0 and releases its packets', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/whoami.ts', concurrency: 4 }]);
  const marks = startedMarks(t);
  const inflight = Array.from({ length: 4 }, () => post(rt.port, `/function/1?ms=300&${marks.query}`, 'x'));
  await marks.running(4);
  const exit = new Promise<number | null>((r) => rt.gateway.child.once('exit', (code) => r(code)));
  rt.gateway.child.kill('SIGTERM');
  const rs = await Promise.all(inflight);
  t.same(rs.map((r) => r.status), [200, 200, 200, 200]);
  t.equal(await exit, 0);
  t.equal(rt.inUse(), 0, 'nothing left in the pool');
});

t.test('SIGTERM to the gateway while a body is still uploading: the request completes', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }]);
  const body = Buffer.alloc(200_000, 7);
  const answer = new Promise<string>((resolve) => {
    const s = net.connect(rt.port, '127.0.0.1', () => {
      s.write(`POST /function/1 HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      s.write(body.subarray(0, 100_000));
    });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', () => resolve(Buffer.concat(chunks).toString('latin1')));
    // The rest of the body comes after the gateway was told to stop.
    setTimeout(() => s.write(body.subarray(100_000)), 400);
  });
  await until(() => rt.inUse() === 1, 10_000, 'the upload holds its packet');
  const exit = new Promise<number | null>((r) => rt.gateway.child.once('exit', (code) => r(code)));
  rt.gateway.child.kill('SIGTERM');
  const out = await answer;
  t.match(out, /^HTTP\/1\.1 200 OK/, 'answered 200 although the gateway was draining');
  t.ok(out.endsWith(body.toString('latin1')), 'with the whole body echoed');
  t.equal(await exit, 0, 'then the gateway exits 0');
  t.equal(rt.inUse(), 0, 'nothing left in the pool');
});

t.test('gateway.drainDelay: once a stop begins /healthz answers 503 while requests are still served, then the gateway exits 0', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }], { drainDelayMs: 1500 });
  const before = await request(rt.port, 'GET', '/healthz');
  t.equal(before.status, 200, 'healthy before the stop');
  const exit = new Promise<number | null>((r) => rt.gateway.child.once('exit', (code) => r(code)));
  rt.gateway.child.kill('SIGTERM');
  let health = await request(rt.port, 'GET', '/healthz');
  for (let i = 0; i < 50 && health.status === 200; i++) health = await request(rt.port, 'GET', '/healthz');
  t.equal(health.status, 503, '/healthz says 503 during the drain delay');
  t.match(JSON.parse(health.body.toString()), { status: 'draining' });
  const during = await post(rt.port, '/function/1', 'still served');
  t.equal(during.status, 200, 'a new request during the delay is served');
  t.equal(during.body.toString(), 'still served');
  t.equal(await exit, 0, 'the gateway exits 0 after the delay');
});
