// Asynchronous invocation through the real CLI and processes: a 202 with the request id once the
// queue has it, the run with that id, the result kept and POSTed to X-Callback-Url, retries on 5xx
// into a dead letter, `queue ls | show | retry | purge`, the queue's metrics and its row in `ps`.
import path from 'node:path';
import t from 'tap';
import { post, request } from '../helpers/http.js';
import { configText, project, psChildren, until } from '../cli/helpers.js';
import { RECORDER, callbackServer, runs } from './helpers.js';

const json = (b: Buffer) => JSON.parse(b.toString()) as Record<string, unknown>;

t.test('async requests: 202 first, then the run, its result, its callback; retries and dead letters', async (t) => {
  const p = await project(t, 'async');
  const rec = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, name: 'rec', handler: './rec.ts', env: { REC_FILE: ${JSON.stringify(rec)} }, async: { retries: 2, backoff: '50ms' } }]`,
    "  security: { sandbox: false },\n  segment: { size: '64MiB', classes: [{ size: '4KiB' }, { size: '64KiB' }] },\n  flows: [{ name: 'recflow', steps: ['rec'] }],\n  async: { backoffMax: '200ms' },\n").replace("  segment: { size: '64MiB' },\n", ''));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  const cb = await callbackServer(t);

  const r = await post(p.port, '/async-function/rec', 'hello', { 'x-callback-url': cb.url, 'x-custom': 'kept' });
  t.equal(r.status, 202, r.body.toString());
  const id = String(json(r.body).id);
  t.match(id, /^[0-9a-f-]{36}$/);
  t.equal(r.headers['x-request-id'], id, 'X-Request-Id is the id');
  t.equal(r.headers.location, `/async-result/${id}`);
  await until(() => cb.got.some((c) => c.id === id), 20_000, 'the callback');
  const c = cb.got.find((x) => x.id === id)!;
  t.same({ status: c.status, state: c.state, body: c.body }, { status: 200, state: 'done', body: `ran ${id}: hello` }, 'the callback carries the result');
  t.same(runs(rec), [[id, 1]], 'the handler saw the same id, attempt 1');
  const res = await request(p.port, 'GET', `/async-result/${id}`);
  t.equal(res.status, 200);
  t.equal(res.body.toString(), `ran ${id}: hello`);
  t.equal(res.headers['x-async-state'], 'done');

  // A 5xx is retried with the same id; one that keeps failing becomes a dead letter.
  const once = String(json((await post(p.port, '/async-function/1?fail=1', 'x')).body).id);
  const always = String(json((await post(p.port, '/async-function/1?fail=99', 'x')).body).id);
  await until(async () => (await request(p.port, 'GET', `/async-result/${always}`)).status === 500, 20_000, 'the dead letter');
  await until(async () => (await request(p.port, 'GET', `/async-result/${once}`)).status === 200, 20_000, 'the retried request');
  t.same(runs(rec).filter(([i]) => i === once).map(([, a]) => a), [1, 2], 'retried once, same id, attempt 2');
  t.same(runs(rec).filter(([i]) => i === always).map(([, a]) => a), [1, 2, 3], 'retries: 2, then a dead letter');
  const dead = await request(p.port, 'GET', `/async-result/${always}`);
  t.equal(dead.headers['x-async-state'], 'dead');
  t.equal(dead.headers['x-async-attempts'], '3');

  const ls = await p.cli(['queue', 'ls', '--state', 'dead'], { json: true });
  t.equal(ls.code, 0, ls.stderr);
  const listed = JSON.parse(ls.stdout) as { counts: Record<string, number>; requests: { id: string; error: string }[] };
  t.same(listed.requests.map((x) => x.id), [always], 'queue ls --state dead lists the dead letter');
  t.match(listed.requests[0].error, /500: failing on attempt 3/);
  t.match(listed.counts, { dead: 1, done: 2 });
  const show = await p.cli(['queue', 'show', always], { json: true });
  t.match(JSON.parse(show.stdout), { id: always, state: 'dead', attempts: 3, result: { status: 500 }, request: { bodyBytes: 1 } });
  const retry = await p.cli(['queue', 'retry', always]);
  t.equal(retry.code, 0, retry.stderr);
  await until(() => runs(rec).filter(([i]) => i === always).length === 6, 20_000, 'the retried dead letter to run again');
  t.equal((await p.cli(['queue', 'show', 'nope'])).code, 1, 'an unknown id is an error');

  // A flow, by name.
  const f = await post(p.port, '/async-flow/recflow', 'via flow');
  t.equal(f.status, 202);
  const fid = String(json(f.body).id);
  await until(async () => (await request(p.port, 'GET', `/async-result/${fid}`)).status === 200, 20_000, 'the flow result');

  // What is refused, and why.
  t.equal((await post(p.port, '/async-function/nope', 'x')).status, 404, 'unknown function');
  t.equal((await post(p.port, '/async-flow/nope', 'x')).status, 404, 'unknown flow');
  const badCb = await post(p.port, '/async-function/rec', 'x', { 'x-callback-url': 'file:///etc/passwd' });
  t.equal(badCb.status, 400);
  t.match(badCb.body.toString(), /X-Callback-Url must be an absolute http/);
  t.equal((await request(p.port, 'GET', '/async-function/rec')).status, 405);
  t.equal((await request(p.port, 'GET', '/async-result/00000000-0000-0000-0000-000000000000')).status, 404);
  t.equal((await post(p.port, '/async-function/rec', Buffer.alloc(100 * 1024))).status, 413, 'a body over the largest class');

  const metrics = (await request(p.port, 'GET', '/metrics')).body.toString();
  t.match(metrics, /^faasflow_async_queue_up 1$/m);
  t.match(metrics, /^faasflow_async_queue_depth 0$/m);
  t.match(metrics, /^faasflow_async_dead_letters_total [1-9]/m);
  t.match(metrics, /^faasflow_async_retries_total [1-9]/m);
  const queue = (await psChildren(p)).find((x) => x.role === 'queue');
  t.ok(queue && queue.state === 'ready', 'ps lists the queue process');

  const purge = await p.cli(['queue', 'purge'], { json: true });
  t.equal(purge.code, 0, purge.stderr);
  t.equal((await request(p.port, 'GET', `/async-result/${id}`)).status, 404, 'purged results are gone');
  t.equal((await p.cli(['down'])).code, 0);
});

t.test('without `async` in the config there is no queue, and /async-* says how to turn it on', async (t) => {
  const p = await project(t, 'noasync');
  p.write('echo.ts', 'export default async (i: Uint8Array) => i;\n');
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]"));
  t.equal((await p.cli(['up'])).code, 0);
  const r = await post(p.port, '/async-function/1', 'x');
  t.equal(r.status, 404);
  t.match(r.body.toString(), /add `async: \{\}` to faasflow.config.ts/);
  t.notOk((await psChildren(p)).some((x) => x.role === 'queue'), 'no queue process');
  t.equal((await p.cli(['down'])).code, 0);
});
