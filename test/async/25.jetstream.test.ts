// The async queue kept in NATS JetStream (async.store.nats), against a real nats-server the test
// starts: a 202, the run, its result and callback, retries into a dead letter, `queue ls | show |
// retry | purge` reading and writing the stream; nats-server SIGKILLed while idle and started again
// loses nothing accepted (and a queue process killed after it rebuilds everything from the stream);
// while the server is away an async request is still accepted (it waits in the gateway's journal)
// and runs once the server is back; `up` without a server says which URL and what to do.
import path from 'node:path';
import t from 'tap';
import { post, request } from '../helpers/http.js';
import { configText, freePort, project, psChildren, until } from '../cli/helpers.js';
import { RECORDER, callbackServer, runs } from './helpers.js';
import { natsMissing, natsServer } from './nats.js';

const json = (b: Buffer) => JSON.parse(b.toString()) as Record<string, unknown>;
const missing = natsMissing();

function natsConfig(port: number, rec: string, url: string, extra = ''): string {
  return configText(port, `[{ id: 1, name: 'rec', handler: './rec.ts', env: { REC_FILE: ${JSON.stringify(rec)} }, async: { retries: 2, backoff: '50ms' } }]`,
    `  security: { sandbox: false },\n  async: { backoffMax: '200ms', store: { nats: { url: ${JSON.stringify(url)} } }${extra} },\n`);
}

t.test('the queue in JetStream: runs, results, dead letters, the CLI, a nats-server killed while idle', { skip: missing }, async (t) => {
  const nats = await natsServer(t);
  const p = await project(t, 'js');
  const rec = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', natsConfig(p.port, rec, nats.url));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  const cb = await callbackServer(t);

  const r = await post(p.port, '/async-function/rec', 'hello', { 'x-callback-url': cb.url });
  t.equal(r.status, 202, r.body.toString());
  const id = String(json(r.body).id);
  await until(() => cb.got.some((c) => c.id === id), 20_000, 'the callback');
  t.match(cb.got.find((c) => c.id === id), { status: 200, state: 'done', body: `ran ${id}: hello` }, 'the callback carries the result');
  const res = await request(p.port, 'GET', `/async-result/${id}`);
  t.equal(res.status, 200);
  t.equal(res.body.toString(), `ran ${id}: hello`, 'the result body, read back from the stream');

  const always = String(json((await post(p.port, '/async-function/1?fail=99', 'x')).body).id);
  await until(async () => (await request(p.port, 'GET', `/async-result/${always}`)).status === 500, 20_000, 'the dead letter');
  t.same(runs(rec).filter(([i]) => i === always).map(([, a]) => a), [1, 2, 3], 'retries: 2, same id, then a dead letter');
  t.equal((await request(p.port, 'GET', `/async-result/${always}`)).headers['x-async-state'], 'dead');

  const ls = await p.cli(['queue', 'ls', '--state', 'dead'], { json: true });
  t.equal(ls.code, 0, ls.stderr);
  const listed = JSON.parse(ls.stdout) as { counts: Record<string, number>; requests: { id: string; error: string }[] };
  t.same(listed.requests.map((x) => x.id), [always], 'queue ls reads the dead letter from the stream');
  t.match(listed.requests[0].error, /500: failing on attempt 3/);
  t.match(listed.counts, { dead: 1, done: 1 });
  t.match(JSON.parse((await p.cli(['queue', 'show', always], { json: true })).stdout), { id: always, state: 'dead', attempts: 3, result: { status: 500 }, request: { bodyBytes: 1 } });
  const retry = await p.cli(['queue', 'retry', always]);
  t.equal(retry.code, 0, retry.stderr);
  await until(() => runs(rec).filter(([i]) => i === always).length === 6, 20_000, 'the running queue to pick the retried dead letter up from the stream');

  // Requests whose first attempt fails, retried after a backoff: pending in the stream when the
  // server is killed. Then the queue process is killed too, so its successor knows only the stream.
  const waiting: string[] = [];
  for (let i = 0; i < 10; i++) waiting.push(String(json((await post(p.port, '/async-function/1?fail=1', `w${i}`)).body).id));
  await until(() => waiting.every((w) => runs(rec).some(([i]) => i === w)), 20_000, 'each first attempt');
  await new Promise((r) => setTimeout(r, 300));
  await nats.kill();
  // Accepted all the same: the 202 waits for the gateway's journal, which keeps it until the server is back.
  const away = await post(p.port, '/async-function/rec', 'while away');
  t.equal(away.status, 202, `a 202 without the server: ${away.body.toString()}`);
  const awayId = String(json(away.body).id);
  await nats.start();
  const queue = (await psChildren(p)).find((c) => c.role === 'queue' && c.state === 'ready');
  t.ok(queue, 'the queue process is up');
  process.kill(queue!.pid, 'SIGKILL');
  await until(async () => (await psChildren(p)).some((c) => c.role === 'queue' && c.state === 'ready' && c.pid !== queue!.pid), 30_000, 'a new queue process');
  const after = await until(async () => {
    const a = await post(p.port, '/async-function/rec', 'after');
    return a.status === 202 ? a : undefined;
  }, 20_000, 'a 202 once the server is back');
  const afterId = String(json(after!.body).id);
  for (const w of [...waiting, afterId, awayId]) await until(async () => (await request(p.port, 'GET', `/async-result/${w}`)).status === 200, 30_000, `request ${w} to succeed`);
  t.ok(waiting.every((w) => runs(rec).some(([i, a]) => i === w && a >= 2)), 'every request pending at the kill ran again, same id');
  t.equal((await request(p.port, 'GET', `/async-result/${id}`)).body.toString(), `ran ${id}: hello`, 'a result from before the kill is still there');

  const purge = await p.cli(['queue', 'purge'], { json: true });
  t.equal(purge.code, 0, purge.stderr);
  await until(async () => (await request(p.port, 'GET', `/async-result/${id}`)).status === 404, 10_000, 'the purge to reach the running queue');
  const empty = JSON.parse((await p.cli(['queue', 'ls'], { json: true })).stdout) as { counts: Record<string, number> };
  t.same(empty.counts, { pending: 0, done: 0, dead: 0 }, 'nothing left in the stream');
  t.equal((await p.cli(['down'])).code, 0);
});

t.test('`up` with no NATS server at the URL fails and says which URL and what to do', { skip: missing }, async (t) => {
  const p = await project(t, 'jsnone');
  const port = await freePort();
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', natsConfig(p.port, path.join(p.dir, 'runs.log'), `nats://127.0.0.1:${port}`));
  const up = await p.cli(['up']);
  t.not(up.code, 0);
  t.match(up.stderr + up.stdout, new RegExp(`no NATS server answers at nats://127\\.0\\.0\\.1:${port}.*nats-server -js`));
  await p.cli(['down']);
});

t.test('a store that is not a NATS URL is a config error naming the field', async (t) => {
  const p = await project(t, 'jsbad');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', natsConfig(p.port, path.join(p.dir, 'runs.log'), 'http://127.0.0.1:4222'));
  const up = await p.cli(['up']);
  t.not(up.code, 0);
  t.match(up.stderr, /async\.store\.nats\.url.*is not a NATS server URL: write e\.g\. 'nats:\/\/127\.0\.0\.1:4222'/);
});
