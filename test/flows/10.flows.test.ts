// Flows on real processes and real segments: chains of 1 to 8 steps, fan-outs of 1 to 8 branches
// joined in order, bodies from 0 B to 16 MiB byte-exact, the packet handed on inside a domain (no
// copy, proved by the segment's own counters) and copied once per domain crossing, a failing, a
// killed and a slow step named in the error the client gets, retries, and every packet back in
// its pool whatever happened.
import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startRuntime, until, type FnSpec } from '../helpers/runtime.js';
import { json, post } from '../helpers/http.js';
import { FunctionStats } from '../../src/shm/stats.js';
import { FN_COPIED_BYTES, FN_COPIES, FN_REQUESTS, FN_2XX, FN_5XX } from '../../src/shm/constants.js';
import type { FlowCall, FlowConfig, FlowStep } from '../../src/config/types.js';

const STEP = 'test/runtime/fixtures/flow-step.ts';
const MAX_FUNCTIONS = 64;

/** Functions named for what flow-step.ts does with them; `domain` groups them (default: one each). */
function fns(specs: Array<[id: number, name: string, domain?: string]>): FnSpec[] {
  return specs.map(([id, name, domain]) => ({ id, name, handler: STEP, ...(domain ? { domain } : {}) }));
}

/** Stats rows are taken from the top of the table, as the config does: one per flow and per step. */
let flowCount = 0;
const row = () => MAX_FUNCTIONS - 1 - flowCount++;
function flow(name: string, steps: Array<string | string[]>, all: FnSpec[], extra: Partial<FlowConfig> = {}, retries: Record<string, number> = {}): FlowConfig {
  const statsId = row();
  const call = (n: string): FlowCall => {
    const f = all.find((x) => x.name === n);
    if (!f) throw new Error(`no function ${n}`);
    return { functionId: f.id, statsId: row(), name: n, retries: retries[n] ?? 0 };
  };
  const s: FlowStep[] = steps.map((x) => (Array.isArray(x) ? { kind: 'parallel', branches: x.map(call) } : { kind: 'call', call: call(x) }));
  return { name, statsId, steps: s, ...extra };
}

t.test('chains of 1 to 8 steps run in order, across domains', async (t) => {
  flowCount = 0;
  const all = fns([1, 2, 3, 4, 5, 6, 7, 8].map((i) => [i, `tag${i}`] as [number, string]));
  const flows = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => flow(`chain${n}`, all.slice(0, n).map((f) => f.name!), all));
  const rt = await startRuntime(t, all, { flows });
  for (let n = 1; n <= 8; n++) {
    const r = await post(rt.port, `/flow/chain${n}`, 'in');
    t.equal(r.status, 200, `chain of ${n}: 200`);
    t.equal(r.body.toString(), `in${all.slice(0, n).map((f) => `>${f.name}`).join('')}`, `chain of ${n}: every step, in order`);
    t.match(r.headers['x-request-id'], /^\d+$/, 'the flow request has an id');
  }
  const stats = new FunctionStats(rt.runtime);
  t.equal(stats.get(flows[7].statsId, FN_REQUESTS), 1, 'each flow counts its requests in its own row');
  t.equal(stats.get(flows[7].statsId, FN_COPIES), 7, 'eight domains: seven crossings, one copy each');
  t.equal(stats.get(1, FN_REQUESTS), 8, 'and each step counts as a request of its function');
  const step4 = flows[7].steps[3];
  t.equal(step4.kind === 'call' ? stats.get(step4.call.statsId, FN_2XX) : -1, 1, 'and of its step of the flow, in that step\'s own row');
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('fan-out to 1..8 branches, joined in config order', async (t) => {
  flowCount = 0;
  const tags = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => [i, `tag${i}`, i % 2 ? 'odd' : 'even'] as [number, string, string]);
  const all = fns([...tags, [9, 'join', 'odd']]);
  const flows = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => flow(`fan${n}`, [tags.slice(0, n).map(([, name]) => name), 'join'], all));
  const rt = await startRuntime(t, all, { flows });
  for (let n = 1; n <= 8; n++) {
    const r = await post(rt.port, `/flow/fan${n}`, 'x');
    t.equal(r.status, 200, `fan-out to ${n}: 200`);
    t.equal(r.body.toString(), tags.slice(0, n).map(([, name]) => `x>${name}`).join('|'), `fan-out to ${n}: every branch's output, in order`);
  }
  // 50 at once: branches of different requests interleave in the same containers.
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => post(rt.port, '/flow/fan3', `r${i}`)));
  t.same(many.map((r) => r.body.toString()), many.map((_, i) => `r${i}>tag1|r${i}>tag2|r${i}>tag3`), '50 concurrent fan-outs: each gets its own outputs');
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('bodies of 0 B to 16 MiB arrive byte-exact; inside a domain the packet goes on uncopied', async (t) => {
  flowCount = 0;
  const all = fns([[1, 'pass1', 'a'], [2, 'pass2', 'a'], [3, 'pass3', 'a'], [4, 'pass4', 'a'], [5, 'pass5', 'b'], [6, 'pass6', 'c']]);
  const same = flow('same', ['pass1', 'pass2', 'pass3', 'pass4', 'pass1', 'pass2', 'pass3', 'pass4'], all);
  const across = flow('across', ['pass1', 'pass5', 'pass6'], all);
  const rt = await startRuntime(t, all, { flows: [same, across], segmentSize: 256 << 20 });
  const stats = new FunctionStats(rt.runtime);
  for (const size of [0, 1, 1024, 600 << 10, 1 << 20, 16 << 20]) {
    const body = crypto.randomBytes(size);
    for (const f of [same, across]) {
      const r = await post(rt.port, `/flow/${f.name}`, body);
      t.equal(r.status, 200, `${f.name}, ${size} B: 200`);
      t.ok(r.body.equals(body), `${f.name}, ${size} B: byte-exact`);
    }
  }
  t.equal(stats.get(same.statsId, FN_COPIES), 0, 'eight steps in one domain: no copy at all');
  t.equal(stats.get(same.statsId, FN_COPIED_BYTES), 0, 'not one byte copied');
  // The 1 MiB class of domain a never held more than one packet at a time: the body's.
  const big = rt.segOf(1).pool.usage().find((c) => c.size === 1 << 20);
  t.equal(big?.highWater, 1, 'one 1 MiB packet carried the 600 KiB body through all eight steps');
  t.equal(stats.get(across.statsId, FN_COPIES), 12, 'three domains: two copies per request');
  t.equal(stats.get(across.statsId, FN_COPIED_BYTES), 2 * (1 + 1024 + (600 << 10) + (1 << 20) + (16 << 20)), 'of the body, exactly');
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('the next step reads the packet the step before wrote: same segment, index and offset; one copy per domain crossing', async (t) => {
  flowCount = 0;
  const all = fns([[1, 'tag1', 'a'], [2, 'tag2', 'a'], [3, 'tag3', 'b'], [4, 'join', 'a']]);
  const chain = flow('chain', ['tag1', 'tag2', 'tag3'], all);
  const fan = flow('fan', ['tag1', ['tag2', 'tag3'], 'join'], all);
  const rt = await startRuntime(t, all, { flows: [chain, fan] });
  const stats = new FunctionStats(rt.runtime);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-flow-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  type Ref = { segment: string; index: number; offset: number; length: number };
  const rec = (step: string) => JSON.parse(fs.readFileSync(path.join(dir, `${step}.json`), 'utf8')) as { read: Ref[]; wrote?: Ref };
  const where = (r: Ref) => ({ segment: r.segment, index: r.index, offset: r.offset });

  let r = await post(rt.port, `/flow/chain?record=${encodeURIComponent(dir)}`, 'abc');
  t.equal(r.body.toString(), 'abc>tag1>tag2>tag3');
  t.same(where(rec('tag2').read[0]), where(rec('tag1').wrote!), 'inside domain a: tag2 read the very packet tag1 wrote');
  t.equal(rec('tag3').read[0].segment, rt.segOf(3).name, 'tag3 reads from its own domain\'s segment');
  t.not(rec('tag3').read[0].segment, rec('tag2').wrote!.segment, 'so tag2\'s output was copied into domain b');
  t.equal(stats.get(chain.statsId, FN_COPIES), 1, 'exactly one copy: the one crossing');

  r = await post(rt.port, `/flow/fan?record=${encodeURIComponent(dir)}`, 'xy');
  t.equal(r.body.toString(), 'xy>tag1>tag2|xy>tag1>tag3');
  t.same(where(rec('tag2').read[0]), where(rec('tag1').wrote!), 'the branch in domain a reads tag1\'s packet itself');
  t.same(where(rec('join').read[0]), where(rec('tag2').wrote!), 'join reads the first branch\'s output packet as its input');
  t.same(rec('join').read.map((x) => x.length), [12, 12], 'and sees both inputs at their lengths');
  t.equal(rec('join').read[1].segment, rt.segOf(4).name, 'the branch from domain b comes back copied into domain a');
  t.equal(stats.get(fan.statsId, FN_COPIES), 2, 'two copies: into domain b and back');
  await until(() => rt.inUse() === 0, 5000, 'every packet back');
});

t.test('a failing, killed or slow step fails the flow with an error naming it; retries; packets come back', async (t) => {
  flowCount = 0;
  const all = fns([[1, 'tag1'], [2, 'tag2'], [3, 'kill3'], [4, 'join']]);
  const f = flow('f', ['tag1', 'tag2', 'join'], all, {}, { tag2: 1 });
  const k = flow('k', ['tag1', ['tag2', 'kill3'], 'join'], all);
  const slow = flow('slow', ['tag1', 'tag2'], all, { timeoutMs: 400 });
  const rt = await startRuntime(t, all, { flows: [f, k, slow] });
  const stats = new FunctionStats(rt.runtime);

  let r = await post(rt.port, '/flow/f?fail=join', 'x');
  t.equal(r.status, 500, 'a step that answers 500: the flow answers 500');
  t.match(json(r), { status: 500, step: 'join', requestId: Number(r.headers['x-request-id']) }, 'naming the step and the flow request');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-flow-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await post(rt.port, `/flow/f?flaky=tag2&mark=${encodeURIComponent(path.join(dir, 'm'))}`, 'x');
  t.equal(r.status, 200, 'a step with retries: 1 that fails once: the flow succeeds');
  t.equal(r.body.toString(), 'x>tag1>tag2', 'with the retried step\'s output');

  r = await post(rt.port, '/flow/k', 'x');
  t.equal(r.status, 502, 'a branch whose process dies: 502');
  t.match(json(r), { step: 'kill3', error: /exited while handling/ }, 'naming the branch');
  t.equal(stats.get(k.statsId, FN_5XX), 1, 'counted as a failed flow request');

  r = await post(rt.port, '/flow/slow?slow=tag2', 'x');
  t.equal(r.status, 504, 'a step past the flow\'s timeout: 504');
  t.match(json(r), { step: 'tag2' }, 'naming it');
  t.equal(stats.get(f.statsId, FN_2XX), 1, 'the flow\'s 2xx');
  await until(() => rt.inUse() === 0, 10_000, 'every packet back after failures');
});

t.test('a client that leaves mid-flow cancels the running step and frees everything', async (t) => {
  flowCount = 0;
  const all = fns([[1, 'tag1'], [2, 'tag2'], [3, 'tag3']]);
  const rt = await startRuntime(t, all, { flows: [flow('p', ['tag1', ['tag2', 'tag3'], 'tag1'], all)] });
  const req = http.request({ port: rt.port, method: 'POST', path: '/flow/p?slow=tag3' });
  req.on('error', () => undefined);
  req.end('x');
  await until(() => rt.inUse() >= 3, 5000, 'the group to be running');
  req.destroy();
  await until(() => rt.inUse() === 0, 10_000, 'every packet back once the client left');
  const r = await post(rt.port, '/flow/p', 'y');
  t.equal(r.status, 200, 'the flow still runs after');
  t.equal(r.body.toString(), 'y>tag1>tag2>tag1', 'the join step got both branches (the first as its input)');
});

t.test('unknown flows and wrong methods get clear errors', async (t) => {
  flowCount = 0;
  const all = fns([[1, 'tag1']]);
  const rt = await startRuntime(t, all, { flows: [flow('one', ['tag1'], all)] });
  let r = await post(rt.port, '/flow/nope', 'x');
  t.equal(r.status, 404);
  t.match(json(r).error, /no flow named 'nope': this instance has one/);
  r = await new Promise((resolve, reject) => http.get({ port: rt.port, path: '/flow/one' }, (res) => {
    res.resume();
    res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0) }));
  }).on('error', reject));
  t.equal(r.status, 405, 'GET: 405');
  t.equal(r.headers.allow, 'POST');
});
