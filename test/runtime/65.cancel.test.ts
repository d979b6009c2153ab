// A client that leaves is heard: the gateway sends the container a Cancel frame for the request,
// and the handler's ctx.signal aborts (instead of the handler running on for nobody). The same
// when the gateway gives up on a request at its deadline. The delay is measured and reported; the
// assertion is only that the abort happens, long before the handler would have finished alone.
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startRuntime, until } from '../helpers/runtime.js';

t.test('a client that disconnects mid-handler aborts ctx.signal', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/cancellable.ts' }]);
  const mark = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ff-cancel-')), 'aborted');
  t.teardown(() => fs.rmSync(path.dirname(mark), { recursive: true, force: true }));
  const req = http.request({ port: rt.port, method: 'POST', path: `/function/1?ms=20000&mark=${encodeURIComponent(mark)}` });
  req.on('error', () => undefined);
  req.end('x');
  await until(() => rt.inUse() > 0, 5000, 'the request to reach the container');
  // Give the handler a moment to be running, then leave.
  await new Promise((r) => setTimeout(r, 100));
  const left = performance.timeOrigin + performance.now();
  req.destroy();
  await until(() => fs.existsSync(mark), 15_000, 'the handler to see its signal abort');
  const delayMs = Number(fs.readFileSync(mark, 'utf8')) - left;
  t.comment(`ctx.signal aborted ${delayMs.toFixed(2)} ms after the client disconnected`);
  t.ok(delayMs < 15_000, 'the handler was told, long before its own 20 s wait would have ended');
  await until(() => rt.inUse() === 0, 5000, 'its packets to come back');
});

t.test('a request the gateway times out aborts ctx.signal too', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/cancellable.ts', timeoutMs: 300 }]);
  const mark = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ff-cancel-')), 'aborted');
  t.teardown(() => fs.rmSync(path.dirname(mark), { recursive: true, force: true }));
  const r = await new Promise<number>((resolve) => {
    const req = http.request({ port: rt.port, method: 'POST', path: `/function/1?ms=20000&mark=${encodeURIComponent(mark)}` }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.end('x');
  });
  t.equal(r, 504, 'the client gets 504 at the timeout');
  await until(() => fs.existsSync(mark), 15_000, 'the handler to see its signal abort');
  t.pass('and the handler\'s signal aborted');
  await until(() => rt.inUse() === 0, 5000, 'its packets to come back');
});
