// ctx.invoke() on real processes and real segments: a handler calls another function by name or
// id and reads its answer in place. Inside one domain nothing is copied (the segment's counters
// say so), across domains one copy each way; bodies from 0 B to 16 MiB arrive byte-exact; calls
// fan out; a call back into its own chain is refused instead of waiting on itself; a callee that
// dies or a client that leaves fails only that call, and every packet goes back to its pool.
import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startRuntime, until, type FnSpec } from '../helpers/runtime.js';
import { post } from '../helpers/http.js';
import { FunctionStats } from '../../src/shm/stats.js';
import { FN_COPIED_BYTES, FN_COPIES, FN_REQUESTS } from '../../src/shm/constants.js';

const INVOKER = 'test/runtime/fixtures/invoker.ts';

function fns(specs: Array<[id: number, name: string, domain: string, concurrency?: number]>): FnSpec[] {
  return specs.map(([id, name, domain, concurrency]) => ({ id, name, domain, handler: INVOKER, ...(concurrency ? { concurrency } : {}) }));
}

t.test('a call inside a domain copies nothing; across domains one copy each way', async (t) => {
  const rt = await startRuntime(t, fns([[1, 'front', 'a'], [2, 'back', 'a'], [3, 'far', 'b']]));
  const stats = new FunctionStats(rt.runtime);

  let r = await post(rt.port, '/function/1?call.1=back', 'hello');
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'hello>fn2', 'by name: the callee\'s answer, answered from where it is');
  r = await post(rt.port, '/function/1?call.1=2', 'by id');
  t.equal(r.body.toString(), 'by id>fn2', 'by id');
  t.equal(stats.get(2, FN_REQUESTS), 2, 'each call counts as a request of the callee');
  t.equal(stats.get(1, FN_COPIES), 0, 'one domain: not one copy for the calls');

  r = await post(rt.port, '/function/1?call.1=far', 'over');
  t.equal(r.body.toString(), 'over>fn3', 'into another domain and back');
  t.equal(stats.get(1, FN_COPIES), 2, 'two copies: the input into b, the answer back into a');
  t.equal(stats.get(1, FN_COPIED_BYTES), 4 + 8, 'of exactly those bytes');

  r = await post(rt.port, '/function/1?call.1=back&answer.2=pass', 'lent and back');
  t.equal(r.body.toString(), 'lent and back', 'a callee answering the lent input: the caller\'s own packet comes back');
  for (const mode of ['copy', 'output']) {
    r = await post(rt.port, `/function/1?call.1=back&with.1=${mode}`, mode);
    t.equal(r.body.toString(), `${mode}>fn2`, `called with ${mode === 'copy' ? 'bytes of its own' : 'an output packet'}`);
  }
  t.equal(stats.get(1, FN_COPIES), 2, 'still no copy inside the domain');
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('bodies of 0 B to 16 MiB arrive byte-exact, in the domain and across', async (t) => {
  // Room for a caller's 16 MiB input and the 16 MiB answer copied back next to it.
  const rt = await startRuntime(t, fns([[1, 'front', 'a'], [2, 'back', 'a'], [3, 'far', 'b']]), { segmentSize: 512 << 20 });
  for (const size of [0, 1, 1024, 600 << 10, 1 << 20, 16 << 20]) {
    const body = crypto.randomBytes(size);
    for (const to of ['back', 'far']) {
      // The largest packet is 16 MiB: at that size the callee passes its input on.
      const q = size === 16 << 20 ? `call.1=${to}&answer.2=pass&answer.3=pass` : `call.1=${to}`;
      const r = await post(rt.port, `/function/1?${q}`, body);
      const want = size === 16 << 20 ? body : Buffer.concat([body, Buffer.from(`>fn${to === 'back' ? 2 : 3}`)]);
      t.equal(r.status, 200, `${size} B to ${to}: 200`);
      t.ok(r.body.equals(want), `${size} B to ${to}: byte-exact`);
    }
  }
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('calls fan out: eight at once; more than 64 at once are refused, the rest answered', async (t) => {
  const rt = await startRuntime(t, fns([[1, 'front', 'a'], [2, 'back', 'a'], [3, 'far', 'b']]));
  let r = await post(rt.port, '/function/1?call.1=far&fan.1=8', 'f');
  t.equal(r.body.toString(), Array(8).fill('f>fn3').join('|'), 'eight answers, in order');
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => post(rt.port, '/function/1?call.1=back&fan.1=4', `r${i}`)));
  t.same(many.map((x) => x.body.toString()), many.map((_, i) => Array(4).fill(`r${i}>fn2`).join('|')), '20 requests fanning out at once: each gets its own answers');
  r = await post(rt.port, '/function/1?call.1=back&fan.1=70', 'x');
  const outcomes = r.body.toString().split('|');
  t.equal(outcomes.length, 70);
  t.equal(outcomes.filter((o) => o === '429').length, 6, 'the calls past 64 running at once: 429');
  t.equal(outcomes.filter((o) => o === 'x>fn2').length, 64, 'the 64 others answered');
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('a call back into its own chain is refused with 508, not a deadlock; unknown functions 404', async (t) => {
  // Concurrency 1: a self-call that waited for a free slot would wait forever.
  const rt = await startRuntime(t, fns([[1, 'ping', 'a', 1], [2, 'pong', 'a', 1], [3, 'far', 'b', 1]]));
  let r = await post(rt.port, '/function/1?call.1=ping', 'me');
  t.equal(r.status, 508, 'a function calling itself');
  t.match(r.body.toString(), /ctx\.invoke\("ping"\) failed with 508: a call back into the chain/, 'the handler got an error saying why');
  r = await post(rt.port, '/function/1?call.1=pong&call.2=far&call.3=ping', 'round');
  t.equal(r.status, 508, 'a cycle through three functions and two domains');
  t.match(r.body.toString(), /ctx\.invoke\("ping"\) failed with 508/, 'the innermost refusal comes back up the chain');
  r = await post(rt.port, '/function/1?call.1=nope', 'x');
  t.equal(r.status, 404, 'an unknown function');
  t.match(r.body.toString(), /no such function/);
  r = await post(rt.port, '/function/1?call.1=pong', 'after');
  t.equal(r.body.toString(), 'after>fn2', 'every replica still answers');
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('a callee that dies fails the call with 502; a client that leaves cancels the callee', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-invoke-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const rt = await startRuntime(t, fns([[1, 'front', 'a'], [2, 'back', 'a'], [3, 'far', 'b'], [4, 'victim', 'b']]));
  let r = await post(rt.port, '/function/1?call.1=victim&answer.4=kill', 'x');
  t.equal(r.status, 502, 'the caller saw the callee die');
  t.match(r.body.toString(), /exited while handling the call/);
  r = await post(rt.port, '/function/1?call.1=far', 'still');
  t.equal(r.body.toString(), 'still>fn3', 'the caller and the other functions go on');

  const req = http.request({ port: rt.port, method: 'POST', path: `/function/1?call.1=far&answer.3=slow&dir=${encodeURIComponent(dir)}` });
  req.on('error', () => undefined);
  req.end('wait');
  await until(() => fs.existsSync(path.join(dir, 'started.3')), 10_000, 'the callee to be running');
  req.destroy();
  await until(() => fs.existsSync(path.join(dir, 'aborted.3')), 10_000, "the callee's ctx.signal to abort");
  t.pass('the client left: the callee was cancelled through its caller');
  await until(() => rt.inUse() === 0, 10_000, 'every packet back');
});
