import t from 'tap';
import { startRuntime, until } from '../helpers/runtime.js';
import { json, post } from '../helpers/http.js';

t.test('a handler that throws, hangs or returns a wrong type: 500 / 504 / 500, and the container keeps serving', async (t) => {
  const rt = await startRuntime(t, [
    { id: 1, handler: 'test/runtime/fixtures/throws.ts' },
    { id: 2, handler: 'test/runtime/fixtures/hangs.ts', timeoutMs: 300 },
    { id: 3, handler: 'test/runtime/fixtures/wrong-type.ts' },
    { id: 4, handler: 'functions/echo.ts' },
  ]);
  const pids = rt.containers.map((c) => c.pid);
  for (let round = 0; round < 2; round++) {
    const thrown = await post(rt.port, '/function/1', 'abc');
    t.equal(thrown.status, 500);
    t.match(json(thrown).error, /handler failed: boom on 3 bytes/);
    const hung = await post(rt.port, '/function/2', 'abc');
    t.equal(hung.status, 504);
    t.match(json(hung).error, /timed out after 300 ms/);
    const wrong = await post(rt.port, '/function/3', 'abc');
    t.equal(wrong.status, 500);
    t.match(json(wrong).error, /returned function: return a Uint8Array, Buffer, string or JSON/);
  }
  const ok = await post(rt.port, '/function/4', 'still fine');
  t.equal(ok.body.toString(), 'still fine');
  t.ok(rt.containers.every((c) => c.child.exitCode === null), 'no container exited');
  t.same(rt.containers.map((c) => c.pid), pids);
  // The two hung handlers never settle: their request packets stay their container's (freed
  // when it goes); everything else is back.
  await until(() => rt.inUse() === 2, 10_000, 'only the hung handlers\' packets in use');
  const hungPid = rt.containers[1].pid;
  t.ok(rt.seg.pool.held().every((p) => p.owner === hungPid), 'held by the container of the hung handler');
});
