import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { Observer, takeSnapshot } from '../../src/observe/snapshot.js';
import { FunctionStats, H_CONTAINER, H_QUEUE, H_TOTAL, ProcessStats, ProcessTable, Segment, counters, isExhausted } from '../../src/shm/index.js';
import { tempSegment } from '../helpers/segments.js';
import { InstanceView } from '../../src/observe/instance.js';

/** A reader's view, as `top` has it: a second, read-only mapping. */
function reader(t: Test, seg: Segment): InstanceView {
  const r = InstanceView.single(Segment.open(seg.name, false));
  t.teardown(() => r.close());
  return r;
}

t.test('function counters, status classes, bytes and latency quantiles equal what the writer wrote', async (t) => {
  const seg = tempSegment(t);
  const fs = new FunctionStats(seg);
  fs.add(2, counters.FN_REQUESTS, 1000);
  fs.add(2, counters.FN_2XX, 990);
  fs.add(2, counters.FN_4XX, 4);
  fs.add(2, counters.FN_5XX, 6);
  fs.add(2, counters.FN_TIMEOUTS, 2);
  fs.add(2, counters.FN_REJECTED, 3);
  fs.add(2, counters.FN_BYTES_IN, 123456);
  fs.add(2, counters.FN_BYTES_OUT, 654321);
  fs.set(2, counters.FN_INFLIGHT, 5);
  fs.set(2, counters.FN_QUEUED, 1);
  // 1..1000 µs once each: p50 500 µs, p99 990 µs, within the histogram's ~6 %.
  for (let us = 1; us <= 1000; us++) fs.record(2, H_TOTAL, us);
  for (let i = 0; i < 100; i++) fs.record(2, H_QUEUE, 20);
  fs.record(2, H_CONTAINER, 5000);

  const snap = takeSnapshot(reader(t, seg), { functionNames: new Map([[2, 'resize']]) });
  t.equal(snap.status, 'running');
  t.equal(snap.functions.length, 1, 'only functions with traffic or a name are listed');
  const f = snap.functions[0];
  t.match(f, { id: 2, name: 'resize', requests: 1000, status: { '2xx': 990, '4xx': 4, '5xx': 6 }, errors: 10, timeouts: 2, rejected: 3, bytesIn: 123456, bytesOut: 654321, inflight: 5, queued: 1 });
  t.equal(f.rps, null, 'no rate on a first snapshot');
  t.equal(f.latencyUs.total.count, 1000);
  t.ok(Math.abs(f.latencyUs.total.p50 - 500) <= 30, `p50 ${f.latencyUs.total.p50}`);
  t.ok(Math.abs(f.latencyUs.total.p99 - 990) <= 60, `p99 ${f.latencyUs.total.p99}`);
  t.equal(f.latencyUs.total.max, 1000);
  t.equal(f.latencyUs.total.mean, 500.5);
  t.equal(f.latencyUs.queue.p50, 20);
  t.equal(f.latencyUs.container.count, 1);
  t.ok(Math.abs(f.latencyUs.container.p99 - 5000) <= 300);
});

t.test('rates and recent latency cover exactly what happened between two snapshots', async (t) => {
  const seg = tempSegment(t);
  const fs = new FunctionStats(seg);
  const obs = new Observer();
  const r = reader(t, seg);
  fs.add(1, counters.FN_REQUESTS, 100);
  for (let i = 0; i < 100; i++) fs.record(1, H_TOTAL, 100);
  obs.snapshot(r, 'x');
  await new Promise((res) => setTimeout(res, 200));
  fs.add(1, counters.FN_REQUESTS, 500);
  for (let i = 0; i < 500; i++) fs.record(1, H_TOTAL, 3000);
  const s = obs.snapshot(r, 'x');
  const f = s.functions[0];
  t.ok(s.intervalS && s.intervalS >= 0.19, `interval ${s.intervalS}`);
  t.ok(Math.abs(f.rps! * s.intervalS! - 500) < 1e-6, 'rps × interval = requests in the interval');
  t.equal(f.recentLatencyUs?.total.count, 500, 'recent latency counts only the new requests');
  t.ok(Math.abs(f.recentLatencyUs!.total.p50 - 3000) <= 200, 'recent p50 is the new requests’ latency');
  t.ok(f.latencyUs.total.p50 < 200 || f.latencyUs.total.p50 > 2800, 'all-time p50 mixes both');
  t.equal(f.latencyUs.total.count, 600);
});

t.test('pool, processes, segment, /dev/shm and events come from the segment and /proc', async (t) => {
  const seg = tempSegment(t);
  const table = new ProcessTable(seg);
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  const gw = table.register(process.pid, 'gateway');
  table.setState(gw, 'ready');
  const c = table.register(child.pid!, 'container', 2, 1, 0);
  table.setState(c, 'ready');
  const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((res) => dead.once('exit', res));
  table.register(dead.pid!, 'container', 2, 0, 0);
  new ProcessStats(seg, c).reset(2);
  new ProcessStats(seg, c).handled(100, false);
  new ProcessStats(seg, c).handled(100, true);
  const held = [1000, 2000, 3000].map((n) => seg.pool.alloc(n, process.pid));
  const big = seg.pool.alloc(50_000, process.pid);
  t.ok(held.every((d) => !isExhausted(d)) && !isExhausted(big));

  const obs = new Observer({ shmWarnPercent: 80 });
  const r = reader(t, seg);
  const first = obs.snapshot(r, 'x');
  t.same(first.pool.filter((p) => p.inUse).map((p) => [p.size, p.inUse, p.packetBytes]), [[4096, 3, 3 * 4096], [65536, 1, 65536]], 'packets in use per class: 1-3 KB bodies in 4 KiB packets, 50 KB in 64 KiB');
  t.equal(first.pool.length, 13, 'every class of the default list');
  const heldBytes = 3 * 4096 + 65536;
  t.match(first.domains[0].memory, { budget: seg.layout.budget, held: heldBytes, free: seg.layout.budget - heldBytes, waits: 0, refusals: 0, usedPercent: (100 * heldBytes) / seg.layout.budget }, 'the domain\'s budget and what is held of it');
  t.equal(first.pool[0].bytesInUse, 6000);
  t.equal(first.pool[0].count, seg.layout.classes[0].count);
  t.match(first.functions.find((f) => f.id === 2)?.latencyUs.handler, { count: 2, p99: 100 }, 'a function’s handler time comes from its containers');
  t.same(first.processes.map((p) => [p.role, p.pid, p.alive]), [['gateway', process.pid, true], ['container', dead.pid, false], ['container', child.pid, true]], 'ordered by role, function, replica');
  const cp = first.processes.find((p) => p.pid === child.pid)!;
  t.match(cp, { functionId: 2, replica: 1, state: 'ready', restarts: 0, requests: 2, errors: 1, handlerUs: { count: 2, p50: 100, max: 100 } });
  t.ok(cp.memory && cp.memory.rss > 10 << 20 && cp.memory.privateBytes > 0 && cp.memory.privateBytes < cp.memory.rss, 'the child’s memory sampled');
  t.equal(first.processes.find((p) => p.pid === dead.pid)?.memory, null, 'a dead pid has no memory');
  t.ok(first.events.some((e) => e.level === 'error' && e.text.includes(`pid ${dead.pid} is not running`)), 'a dead registered process is reported');
  t.equal(first.segment?.creatorPid, process.pid);
  t.equal(first.segment?.creatorAlive, true);
  t.equal(first.segment?.size, 64 << 20);
  t.ok(first.segment!.touched > 0);
  t.same(first.segment?.holders.map((h) => h.pid), [], 'this process (the creator, mapping it twice) is excluded');
  t.ok(first.shm.total > 0 && first.shm.used > 0);
  t.equal(first.shm.warn, first.shm.usedPercent > 80);

  // The supervisor restarts the replica: new pid, restarts + 1.
  table.release(c);
  const again = table.register(child.pid!, 'container', 2, 1, 1);
  table.setState(again, 'ready');
  new FunctionStats(seg).add(2, counters.FN_5XX, 2);
  new FunctionStats(seg).add(2, counters.FN_REQUESTS, 2);
  obs.snapshot(r, 'x');
  new FunctionStats(seg).add(2, counters.FN_5XX, 3);
  const second = obs.snapshot(r, 'x');
  t.equal(second.processes.find((p) => p.pid === child.pid)?.restarts, 1);
  t.ok(second.events.some((e) => e.text.includes('restarted')), 'restart reported');
  t.ok(second.events.some((e) => e.level === 'error' && e.text.includes('+3 error')), 'new errors reported');
  t.ok(second.processes.find((p) => p.pid === child.pid)!.cpuPercent! >= 0, 'CPU % from the second snapshot on');
  const warned = new Observer({ shmWarnPercent: 1e-9 }).snapshot(r, 'x');
  t.equal(warned.shm.warn, true, 'the threshold is configurable');
  t.ok(warned.events.some((e) => e.level === 'warn' && e.text.includes('/dev/shm')));
});

t.test('without a segment the snapshot says what it waits for', async (t) => {
  const s = new Observer().snapshot(null, 'nothing-here', 'waiting for instance: no segment /dev/shm/faasflow-nothing-here');
  t.match(s, { status: 'waiting', instance: 'nothing-here', segment: null, functions: [], processes: [], pool: [] });
  t.match(s.reason, /no segment/);
});
