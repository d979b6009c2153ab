// The queue seen from outside, on a real instance: /metrics (parsed as Prometheus text) carries its
// depth and oldest age while a request waits, retries, dead letters and failed callbacks; `ps`
// and `top --once` print a QUEUE line with the same, and `ps --json` the queue process's stats.
import path from 'node:path';
import t from 'tap';
import { post, request } from '../helpers/http.js';
import { configText, freePort, project, until } from '../cli/helpers.js';
import { RECORDER, runs } from './helpers.js';

interface Family {
  type?: string;
  help?: string;
  samples: Map<string, number>;
}

/** The Prometheus text format, strictly: every sample belongs to a family with # HELP and # TYPE. */
function parseProm(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  const family = (name: string) => {
    let f = out.get(name);
    if (!f) out.set(name, (f = { samples: new Map() }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'HELP') family(meta[2]).help = meta[3];
      else family(meta[2]).type = meta[3];
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const value = Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`not a number in: ${line}`);
    // Counters are one family whose samples carry _total (prom-client names the family with it).
    family(m[1]).samples.set(m[2] ?? '', value);
  }
  return out;
}

t.test('queue depth, oldest age, retries, dead letters and callback failures in /metrics and ps', async (t) => {
  const p = await project(t, 'qobs');
  const rec = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, name: 'rec', handler: './rec.ts', concurrency: 4, env: { REC_FILE: ${JSON.stringify(rec)} }, async: { retries: 1, backoff: '50ms' } }]`,
    "  security: { sandbox: false },\n  async: { backoffMax: '100ms', callbackRetries: 1 },\n"));
  t.equal((await p.cli(['up'])).code, 0);
  const metrics = async () => parseProm((await request(p.port, 'GET', '/metrics')).body.toString());
  const value = (m: Map<string, Family>, name: string) => m.get(name)?.samples.get('') ?? NaN;

  // A callback nobody listens for fails; a request that always fails is retried once, then dead.
  const closed = `http://127.0.0.1:${await freePort()}/cb`;
  t.equal((await post(p.port, '/async-function/rec?fail=99', 'x', { 'x-callback-url': closed })).status, 202);
  // One that runs for a while: the depth and the oldest age show it while it runs.
  t.equal((await post(p.port, '/async-function/rec?ms=4000', 'slow')).status, 202);
  const busy: Map<string, Family> = await until(async () => {
    const m = await metrics();
    return value(m, 'faasflow_async_queue_depth') >= 1 && value(m, 'faasflow_async_queue_oldest_age_seconds') > 0 ? m : undefined;
  }, 20_000, 'a pending request in faasflow_async_queue_depth') as Map<string, Family>;
  t.equal(busy.get('faasflow_async_queue_depth')?.type, 'gauge');
  t.equal(busy.get('faasflow_async_queue_oldest_age_seconds')?.type, 'gauge');
  t.equal(value(busy, 'faasflow_async_queue_up'), 1);

  const settled: Map<string, Family> = await until(async () => {
    const m = await metrics();
    return value(m, 'faasflow_async_queue_depth') === 0 && value(m, 'faasflow_async_callback_failures_total') >= 2 ? m : undefined;
  }, 30_000, 'the queue to empty and the callback to fail twice') as Map<string, Family>;
  t.equal(runs(rec).length, 3, 'three runs: the slow one, the failing one twice');
  for (const [name, type] of [['faasflow_async_retries_total', 'counter'], ['faasflow_async_dead_letters_total', 'counter'], ['faasflow_async_callback_failures_total', 'counter'], ['faasflow_async_accepted_total', 'counter'], ['faasflow_async_dead_letters', 'gauge']] as const) {
    t.equal(settled.get(name)?.type, type, `${name} is a ${type}`);
    t.ok(settled.get(name)?.help, `${name} has its help`);
  }
  t.equal(value(settled, 'faasflow_async_accepted_total'), 2);
  t.equal(value(settled, 'faasflow_async_retries_total'), 1, 'one retry');
  t.equal(value(settled, 'faasflow_async_dead_letters_total'), 1);
  t.equal(value(settled, 'faasflow_async_dead_letters'), 1, 'one dead letter kept');
  t.equal(value(settled, 'faasflow_async_callback_failures_total'), 2, 'the callback tried twice (callbackRetries: 1), both failed');
  t.equal(value(settled, 'faasflow_async_queue_oldest_age_seconds'), 0, 'nothing pending: no age');
  t.equal(value(settled, 'faasflow_async_commit_failures_total'), 0);

  // ps: the queue process's last report (every 200 ms) in a QUEUE line, and in --json.
  const ps = await until(async () => {
    const r = await p.cli(['ps']);
    return /callback failures 2/.test(r.stdout) ? r : undefined;
  }, 10_000, 'ps to show the failed callbacks') as { stdout: string };
  t.match(ps.stdout, /^QUEUE {2}0 pending, 0 running, 1 dead letter\(s\), 1 result\(s\) kept; accepted 2, completed 1, retries 1, dead-lettered 1, callback failures 2$/m);
  const json = JSON.parse((await p.cli(['ps'], { json: true })).stdout) as { children: { role: string; queue?: Record<string, unknown> }[] };
  t.match(json.children.find((c) => c.role === 'queue')?.queue, { pending: 0, deadLetters: 1, results: 1, counters: { accepted: 2, retries: 1, dead_letters: 1, callback_failures: 2 } });
  const top = await p.cli(['top', '--once', '--interval', '200']);
  t.equal(top.code, 0, top.stderr);
  t.match(top.stdout, /^QUEUE {2}0 pending, 0 running, 1 dead letter\(s\)/m, 'top --once prints the QUEUE line too');
  t.equal((await p.cli(['down'])).code, 0);
});
