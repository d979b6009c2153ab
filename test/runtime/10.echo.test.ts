import t from 'tap';
import { randomBytes, createHash } from 'node:crypto';
import { startRuntime, until } from '../helpers/runtime.js';
import http from 'node:http';
import { post, request } from '../helpers/http.js';

t.test('bodies of every size round-trip byte-exact through echo, and the pool ends empty', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }], { segmentSize: 256 << 20 });
  for (const size of [0, 1, 1024, 100 * 1024, 1 << 20, 16 << 20]) {
    const body = randomBytes(size);
    const r = await post(rt.port, '/function/1', body, { 'content-type': 'application/x-test' });
    t.equal(r.status, 200, `${size} B: status`);
    t.equal(r.body.length, size, `${size} B: length`);
    t.ok(r.body.equals(body), `${size} B: bytes equal`);
    t.equal(r.headers['content-type'], 'application/x-test');
    t.match(r.headers['x-request-id'], /^\d+$/);
  }
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
  t.equal(rt.inUse(), 0);
});

t.test('1,000 concurrent mixed-size requests each get their own response', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts', replicas: 2, concurrency: 16 }], { segmentSize: 1 << 30 });
  const sizes = [0, 10, 1000, 5000, 70_000, 300_000];
  const bodies = Array.from({ length: 1000 }, (_, i) => randomBytes(sizes[i % sizes.length]));
  // One connection per request, so all 1,000 are really open at once (a pooled agent would cap them).
  const wide = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  t.teardown(() => wide.destroy());
  let connected = 0;
  let connectedAtFirstAnswer = -1;
  const results = await Promise.all(bodies.map(async (b) => {
    const r = await request(rt.port, 'POST', '/function/1', b, {}, { agent: wide, onSocket: () => connected++ });
    if (connectedAtFirstAnswer < 0) connectedAtFirstAnswer = connected;
    return r;
  }));
  t.ok(connectedAtFirstAnswer > 256, `${connectedAtFirstAnswer} connections were open before the first answer came back`);
  t.ok(results.every((r) => r.headers['x-request-id']) && new Set(results.map((r) => r.headers['x-request-id'])).size === 1000, '1,000 distinct request ids');
  const bad = results.filter((r, i) => r.status !== 200 || !r.body.equals(bodies[i]));
  t.equal(bad.length, 0, 'every response carries its own request body');
  if (bad.length) t.comment(JSON.stringify(bad.slice(0, 3).map((r) => ({ status: r.status, len: r.body.length, body: r.body.subarray(0, 200).toString() }))));
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
});

t.test('the example functions answer through the real path', async (t) => {
  const rt = await startRuntime(t, [
    { id: 2, handler: 'functions/uppercase.ts' },
    { id: 3, handler: 'functions/sha256.ts' },
    { id: 4, handler: 'functions/json-transform.ts' },
  ]);
  const up = await post(rt.port, '/function/2', 'Hello World');
  t.equal(up.body.toString(), 'HELLO WORLD');
  const data = randomBytes(300_000);
  const sha = await post(rt.port, '/function/3', data);
  t.equal(sha.body.toString(), createHash('sha256').update(data).digest('hex'));
  const js = await post(rt.port, '/function/4', JSON.stringify({ items: [{ name: 'a', price: 1.5, qty: 2 }, { name: 'b', price: 2, qty: 3 }] }), { 'content-type': 'application/json' });
  t.equal(js.status, 200);
  t.same(JSON.parse(js.body.toString()), { lines: [{ name: 'A', total: 3 }, { name: 'B', total: 6 }], total: 9, count: 2 });
  t.equal(js.headers['content-type'], 'application/json');
  const utf8 = await post(rt.port, '/function/4', JSON.stringify({ items: [{ name: 'crème brûlée 🍮', price: 1, qty: 1 }] }));
  t.same(JSON.parse(utf8.body.toString()).lines, [{ name: 'CRÈME BRÛLÉE 🍮', total: 1 }], 'multi-byte text is encoded straight into the reply packet intact');
  const badJson = await post(rt.port, '/function/4', '{nope');
  t.equal(badJson.status, 400);
  t.match(JSON.parse(badJson.body.toString()).error, /not valid JSON/);
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
});
