import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { metricsFromSnapshot, renderMetrics } from '../../src/observe/metrics.js';
import { InstanceView } from '../../src/observe/instance.js';
import { Observer } from '../../src/observe/snapshot.js';
import { FunctionStats, H_QUEUE, H_TOTAL, ProcessTable, counters } from '../../src/shm/index.js';
import { request, post } from '../helpers/http.js';
import { startRuntime } from '../helpers/runtime.js';
import { tempSegment } from '../helpers/segments.js';
import { ECHO, configText, project } from '../cli/helpers.js';
import { value } from '../helpers/prom.js';

const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
const NO_PROMTOOL = 'promtool not installed (apt-get install prometheus): the format check is skipped';

function promtool(t: Test, body: string): void {
  if (!hasPromtool) {
    t.pass('promtool check metrics', { skip: NO_PROMTOOL });
    return;
  }
  let out = '';
  try {
    out = execFileSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    t.pass('promtool check metrics passes');
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    t.fail(`promtool check metrics: ${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  if (out.trim()) t.comment(out);
}

t.test('counters and histogram buckets equal what was written to the segment', async (t) => {
  const seg = tempSegment(t);
  const fs = new FunctionStats(seg);
  fs.add(2, counters.FN_REQUESTS, 5);
  fs.add(2, counters.FN_2XX, 4);
  fs.add(2, counters.FN_5XX, 1);
  fs.add(2, counters.FN_BYTES_IN, 4096);
  fs.add(2, counters.FN_TIMEOUTS, 1);
  for (const us of [80, 900, 3000, 3000, 120000]) fs.record(2, H_TOTAL, us);
  fs.record(2, H_QUEUE, 10);
  const table = new ProcessTable(seg);
  table.setState(table.register(process.pid, 'gateway', 0, 0, 3), 'ready');

  const { contentType, body } = await renderMetrics(InstanceView.single(seg), { functionNames: new Map([[2, 'resize']]) });
  t.match(contentType, /^text\/plain; version=0\.0\.4/);
  const fn = { function: '2', name: 'resize' };
  t.equal(value(body, 'faasflow_requests_total', fn), 5);
  t.equal(value(body, 'faasflow_responses_total', { ...fn, class: '2xx' }), 4);
  t.equal(value(body, 'faasflow_responses_total', { ...fn, class: '4xx' }), 0);
  t.equal(value(body, 'faasflow_responses_total', { ...fn, class: '5xx' }), 1);
  t.equal(value(body, 'faasflow_timeouts_total', fn), 1);
  t.equal(value(body, 'faasflow_request_bytes_total', fn), 4096);
  const total = { ...fn, stage: 'total' };
  const le = (b: string) => value(body, 'faasflow_request_duration_seconds_bucket', { ...total, le: b });
  t.same([le('0.00005'), le('0.0001'), le('0.001'), le('0.0025'), le('0.005'), le('0.1'), le('0.25'), le('+Inf')], [0, 1, 2, 2, 4, 4, 5, 5], 'cumulative buckets at fixed bounds');
  t.equal(value(body, 'faasflow_request_duration_seconds_count', total), 5);
  t.ok(Math.abs(value(body, 'faasflow_request_duration_seconds_sum', total)! - 0.12698) < 1e-9, 'sum in seconds');
  t.equal(value(body, 'faasflow_request_duration_seconds_count', { ...fn, stage: 'queue' }), 1);
  const me = { pid: String(process.pid), role: 'gateway' };
  t.ok(value(body, 'faasflow_process_resident_memory_bytes', me)! > 10 << 20, 'rss of the registered process');
  t.ok(value(body, 'faasflow_process_private_memory_bytes', me)! > 0);
  t.equal(value(body, 'faasflow_process_restarts_total', { role: 'gateway' }), 3);
  t.equal(value(body, 'faasflow_process_up', { ...me, state: 'ready' }), 1);
  t.equal(value(body, 'faasflow_pool_packets', { class: '4096' }), seg.layout.classes[0].count);
  t.equal(value(body, 'faasflow_pool_packets_in_use', { class: '4096' }), 0);
  t.equal(value(body, 'faasflow_segment_size_bytes'), 64 << 20);
  t.ok(value(body, 'faasflow_dev_shm_size_bytes')! > 0);
  promtool(t, body);
});

t.test('GET /metrics on a real gateway: promtool passes and the counters equal the requests sent', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts', replicas: 2 }]);
  // What the supervisor writes for its containers once they are ready.
  const table = new ProcessTable(rt.runtime);
  for (const c of rt.containers) table.setState(table.slotOf(c.pid), 'ready');
  const sent = 37;
  const statuses: number[] = [];
  for (let i = 0; i < sent; i++) statuses.push((await post(rt.port, '/function/1', `hello ${i}`)).status);
  t.same(new Set(statuses), new Set([200]), 'every request answered 200');
  t.equal((await post(rt.port, '/function/9', 'nobody')).status, 404);
  const res = await request(rt.port, 'GET', '/metrics');
  t.equal(res.status, 200);
  t.match(String(res.headers['content-type']), /text\/plain/);
  const body = res.body.toString();
  t.equal(value(body, 'faasflow_requests_total', { function: '1' }), sent, 'requests counted once each');
  t.equal(value(body, 'faasflow_responses_total', { function: '1', class: '2xx' }), sent);
  t.equal(value(body, 'faasflow_responses_total', { function: '1', class: '5xx' }), 0);
  t.equal(value(body, 'faasflow_request_duration_seconds_count', { function: '1', stage: 'total' }), sent, 'every request in the latency histogram');
  t.equal(value(body, 'faasflow_request_duration_seconds_bucket', { function: '1', stage: 'total', le: '+Inf' }), sent);
  for (const stage of ['queue', 'container', 'reply']) t.equal(value(body, 'faasflow_request_duration_seconds_count', { function: '1', stage }), sent, `every request timed in the ${stage} stage`);
  const handled = rt.containers.reduce((a, c) => a + (value(body, 'faasflow_handler_duration_seconds_count', { function: '1', pid: String(c.pid) }) ?? 0), 0);
  t.equal(handled, sent, 'every request in the replicas’ handler histograms');
  for (const p of [rt.gateway, ...rt.containers]) t.ok(value(body, 'faasflow_process_resident_memory_bytes', { pid: String(p.pid) })! > 0, `memory of pid ${p.pid}`);
  t.equal(value(body, 'faasflow_pool_packets_in_use', { class: '4096' }), 0, 'no packet left in use');
  t.equal(value(body, 'faasflow_domain_budget_bytes', { domain: 'fn1' }), 128 << 20, "the domain's budget: segment.size for its one domain");
  t.equal(value(body, 'faasflow_domain_held_bytes', { domain: 'fn1' }), 0);
  t.equal(value(body, 'faasflow_domain_free_bytes', { domain: 'fn1' }), 128 << 20);
  t.equal(value(body, 'faasflow_domain_memory_waits_total', { domain: 'fn1' }), 0, 'nothing waited for memory');
  t.equal(value(body, 'faasflow_memory_refusals_total', { function: '1' }), 0);
  // Every request the gateway sent was its only one in flight: one wait each, polled or parked.
  const polls = (pid: number, result: string) => value(body, 'faasflow_process_polls_total', { pid: String(pid), result }) ?? NaN;
  const gw = ['answered', 'timed_out', 'parked'].map((r) => polls(rt.gateway.pid, r));
  t.equal(gw[0] + gw[1] + gw[2], sent, `the gateway waited once per request sent (${gw[0]} polled and answered, ${gw[1]} timed out, ${gw[2]} parked)`);
  t.ok(gw[0] + gw[1] >= 1, 'and polled at least for the first (no estimate yet)');
  t.ok(value(body, 'faasflow_process_poll_seconds_total', { pid: String(rt.gateway.pid) })! > 0, 'time spent polling is counted');
  const waits = rt.containers.reduce((a, c) => a + ['answered', 'timed_out', 'parked'].reduce((b, r) => b + polls(c.pid, r), 0), 0);
  t.ok(waits >= sent, `the replicas waited after each of their replies (${waits} waits for ${sent} replies)`);
  promtool(t, body);
});

/** HELP text of `name`. */
function help(body: string, name: string): string | undefined {
  return new RegExp(`^# HELP ${name} (.*)$`, 'm').exec(body)?.[1];
}

t.test('the /dev/shm warning threshold is the one given, scrape after scrape', async (t) => {
  const seg = InstanceView.single(tempSegment(t));
  const first = (await renderMetrics(seg, { shmWarnPercent: 37 })).body;
  t.match(help(first, 'faasflow_dev_shm_warning'), /\(37 %\)/, 'HELP names the configured threshold');
  const used = value(first, 'faasflow_dev_shm_used_bytes')! / value(first, 'faasflow_dev_shm_size_bytes')!;
  t.equal(value(first, 'faasflow_dev_shm_warning'), 100 * used > 37 ? 1 : 0, 'the gauge compares /dev/shm with it');
  // Same view, same Observer: a changed threshold still applies.
  const second = (await renderMetrics(seg, { shmWarnPercent: 1e-9 })).body;
  t.match(help(second, 'faasflow_dev_shm_warning'), /\(1e-9 %\)/);
  t.equal(value(second, 'faasflow_dev_shm_warning'), 1, 'above a threshold /dev/shm is past: warning');
});

// Needs the gateway to pass its config's threshold (src/runtime/gateway/main.ts:
// `renderMetrics(seg, { functionNames: …, shmWarnPercent: cfg.observe.shmWarnPercent })`).
t.test('GET /metrics of a real instance uses observe.shmWarnPercent from its config', async (t) => {
  const p = await project(t, 'shmwarn');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'echo', handler: './echo.ts' }]", '  observe: { shmWarnPercent: 37 },\n'));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);
  t.teardown(() => p.cli(['down']).then(() => undefined));
  const body = (await request(p.port, 'GET', '/metrics')).body.toString();
  t.match(help(body, 'faasflow_dev_shm_warning'), /\(37 %\)/, `HELP: ${help(body, 'faasflow_dev_shm_warning')}`);
  const used = value(body, 'faasflow_dev_shm_used_bytes')! / value(body, 'faasflow_dev_shm_size_bytes')!;
  t.equal(value(body, 'faasflow_dev_shm_warning'), 100 * used > 37 ? 1 : 0, 'the gauge uses it too');
  const top = JSON.parse((await p.cli(['top', '--once', '--interval', '200'], { json: true })).stdout) as { shm: { warnPercent: number } };
  t.equal(top.shm.warnPercent, 37, 'the same threshold as top');
});

t.test('a scrape keeps the event loop turning while it reads /proc; reading it synchronously does not', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts', replicas: 2 }]);
  for (let i = 0; i < 20; i++) await post(rt.port, '/function/1', `warm ${i}`);
  // How many turns the event loop takes while `scrape` runs: a turn is a setImmediate callback,
  // which only runs between I/O callbacks. A scrape that blocks the loop lets none run; one that
  // reads /proc on the thread pool lets the loop (and the requests it serves) go on meanwhile.
  const turnsDuring = async (scrape: () => Promise<unknown>) => {
    let turns = 0;
    let running = true;
    const spin = () => {
      if (!running) return;
      turns++;
      setImmediate(spin);
    };
    const done = scrape().finally(() => (running = false));
    turns = 0;
    setImmediate(spin);
    await done;
    return turns;
  };
  // Each round maps the segments afresh, so nothing is cached: every process's smaps and every
  // /proc/*/maps are read, as on a first scrape or one past the caching interval.
  const fresh = () => InstanceView.open(rt.runtime.name, [rt.seg.name]);
  const view = fresh();
  t.teardown(() => view.close());
  // What /metrics did before: a synchronous full sample of each process and holder scan.
  const sync = await turnsDuring(async () => metricsFromSnapshot(new Observer({ holdersMs: 60_000 }).snapshot(view, 'x'), view));
  t.equal(sync, 0, 'reading /proc synchronously: the event loop does not turn until the scrape is over');
  const other = fresh();
  t.teardown(() => other.close());
  const async = await turnsDuring(() => renderMetrics(other, {}));
  t.ok(async > 0, `renderMetrics: the event loop turned ${async} time(s) while its /proc reads were in progress`);
  const body = (await renderMetrics(InstanceView.borrow(rt.runtime, [rt.seg]), {})).body;
  for (const p of [rt.gateway, ...rt.containers]) t.ok(value(body, 'faasflow_process_private_memory_bytes', { pid: String(p.pid) })! > 0, `and the first scrape has memory of pid ${p.pid}`);
});
