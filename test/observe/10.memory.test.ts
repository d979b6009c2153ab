import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { carryForward, sampleMemory, sampleMemoryWith, statusMemory } from '../../src/observe/memory.js';
import { CpuMeter, MemoryTrend } from '../../src/observe/trend.js';
import { ProcFiles, cpuSeconds } from '../../src/observe/procfs.js';
import { ProcessSamples, ROLLUP_RSS, rollupInterval } from '../../src/observe/samples.js';
import { tempSegment } from '../helpers/segments.js';

const MiB = 1 << 20;

/**
 * A node child running `script`, with an IPC channel; killed when the test ends.
 */
function child(t: Test, script: string): ChildProcess {
  const c = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  t.teardown(() => {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  return c;
}

async function step(c: ChildProcess, msg: unknown): Promise<void> {
  const reply = once(c, 'message');
  c.send(msg as object);
  await reply;
}

t.test('sampleMemory sees a child allocate 64 MiB as private memory, and its segment pages as shm, not private', async (t) => {
  const seg = tempSegment(t, { size: 128 << 20 });
  const shm = JSON.stringify(new URL('../../dist/shm/index.js', import.meta.url).href);
  const c = child(
    t,
    `const keep = [];
    const shm = import(${shm});
    process.on('message', async (m) => {
      if (m.step === 'alloc') keep.push(Buffer.alloc(64 << 20, 1));
      if (m.step === 'map') {
        const seg = (await shm).Segment.open(m.name, true);
        keep.push(seg);
        new Uint8Array(seg.views[0], seg.layout.metaEnd, 32 << 20).fill(3);
      }
      process.send({ done: true });
    });
    process.send({ done: true });`,
  );
  await once(c, 'message');
  const pid = c.pid!;
  const before = sampleMemory(pid);
  t.ok(before, 'sampled');
  await step(c, { step: 'alloc' });
  const after = sampleMemory(pid)!;
  const grew = after.privateBytes - before!.privateBytes;
  t.ok(grew >= 62 * MiB && grew <= 72 * MiB, `private grew by ${(grew / MiB).toFixed(1)} MiB for a 64 MiB buffer`);
  t.ok(after.rss - before!.rss >= 62 * MiB, 'rss grew too');
  t.equal(after.shmBytes, 0, 'nothing of a segment mapped yet');

  await step(c, { step: 'map', name: seg.name });
  const mapped = sampleMemory(pid)!;
  t.ok(mapped.shmBytes >= 32 * MiB && mapped.shmBytes <= 34 * MiB, `shm ${(mapped.shmBytes / MiB).toFixed(1)} MiB of the segment resident in the child`);
  const privDelta = mapped.privateBytes - after.privateBytes;
  // Loading the native module and mapping take a few MiB of the child's own; the 32 MiB of
  // segment pages, counted as private, would move it by more than that.
  t.ok(privDelta < 16 * MiB, `segment pages are not counted as private (private moved ${(privDelta / MiB).toFixed(1)} MiB)`);
  // Within one sample, not against the earlier one: between two samples the child's other pages
  // (V8's heap, the binary's file pages) may shrink by more than the segment adds.
  t.ok(mapped.rss >= mapped.privateBytes + mapped.shmBytes, `rss includes the segment pages (rss ${(mapped.rss / MiB).toFixed(1)} MiB, private ${(mapped.privateBytes / MiB).toFixed(1)} MiB, shm ${(mapped.shmBytes / MiB).toFixed(1)} MiB)`);
  t.ok(mapped.pss <= mapped.rss, 'pss ≤ rss');
  t.ok(mapped.cpuTime > 0, 'cpu time read');
  t.equal(sampleMemory(2 ** 22 + 12345), null, 'a pid that does not exist samples as null');
});

t.test('CPU time from /proc matches what the process itself measures, and CpuMeter turns it into % of a core', async (t) => {
  const before = { proc: cpuSeconds('self')!, self: process.cpuUsage() };
  const end = process.cpuUsage().user + 300_000;
  while (process.cpuUsage().user < end);
  const used = process.cpuUsage(before.self);
  const fromProc = cpuSeconds('self')! - before.proc;
  const fromSelf = (used.user + used.system) / 1e6;
  // /proc counts in clock ticks (10 ms).
  t.ok(Math.abs(fromProc - fromSelf) <= 0.03, `/proc says ${fromProc.toFixed(3)} s, the process ${fromSelf.toFixed(3)} s`);

  const meter = new CpuMeter();
  t.equal(meter.update(1, 10, 0), null, 'no rate from one reading');
  t.equal(meter.update(1, 10.5, 1000), 50, 'half a second of CPU in a second is 50 %');
  t.equal(meter.update(1, 12.5, 2000), 200, 'two busy threads: 200 %');
  meter.retain(new Set());
  t.equal(meter.update(1, 13, 3000), null, 'a forgotten pid starts over (a restarted replica has a new pid)');

  const busy = child(t, 'const end = Date.now() + 60000; while (Date.now() < end);');
  const idle = child(t, 'setInterval(() => {}, 1000);');
  // Past node's own start-up work, which is not idle.
  await new Promise((r) => setTimeout(r, 1500));
  const live = new CpuMeter();
  for (const c of [busy, idle]) live.update(c.pid!, cpuSeconds(c.pid!)!);
  await new Promise((r) => setTimeout(r, 1500));
  const busyPct = live.update(busy.pid!, cpuSeconds(busy.pid!)!)!;
  const idlePct = live.update(idle.pid!, cpuSeconds(idle.pid!)!)!;
  // How much a spinner gets depends on what else runs on the two shared cores; more than an idle process, always.
  t.ok(busyPct > idlePct && busyPct > 1 && busyPct <= 105, `busy child at ${busyPct.toFixed(0)} %`);
  t.ok(idlePct < 5, `idle child at ${idlePct.toFixed(1)} %`);
});

t.test('MemoryTrend flags a steady rise and nothing else', async (t) => {
  const series = (f: (i: number) => number, n = 30) => {
    const tr = new MemoryTrend();
    for (let i = 0; i < n; i++) tr.add(i * 5000, f(i));
    return tr.verdict();
  };
  const leak = series((i) => 100 * MiB + i * 512 * 1024);
  t.ok(leak.leak, 'half a MiB every 5 s for 150 s is a leak');
  t.ok(Math.abs(leak.slopeBytesPerS - (512 * 1024) / 5) < 1, 'slope is the rate of the rise');
  t.notOk(series(() => 100 * MiB).leak, 'flat');
  t.notOk(series((i) => 100 * MiB + (i % 4) * 3 * MiB).leak, 'GC sawtooth');
  t.notOk(series((i) => (i < 15 ? 100 : 140) * MiB).leak, 'one step up then a plateau');
  t.notOk(series((i) => 100 * MiB + i * 10 * 1024).leak, 'a rise too small to matter');
  t.notOk(series((i) => 100 * MiB + i * MiB, 5).leak, 'too few samples to say');
  t.notOk(series((i) => 200 * MiB - i * MiB).leak, 'falling');
});

t.test('a really leaking child is flagged from live samples; an idle one is not', async (t) => {
  const leaker = child(t, 'const keep = []; setInterval(() => keep.push(Buffer.alloc(2 << 20, 1)), 100);');
  const idle = child(t, 'setInterval(() => {}, 1000);');
  await new Promise((r) => setTimeout(r, 500));
  const trends = [new MemoryTrend(), new MemoryTrend()];
  for (let i = 0; i < 15; i++) {
    [leaker, idle].forEach((c, k) => {
      const m = sampleMemory(c.pid!);
      if (m) trends[k].add(m.at, m.privateBytes);
    });
    await new Promise((r) => setTimeout(r, 200));
  }
  const [l, i] = trends.map((x) => x.verdict());
  t.ok(l.leak, `leaker: +${(l.slopeBytesPerS / MiB).toFixed(1)} MiB/s, r² ${l.r2.toFixed(2)}, up ${l.upFraction.toFixed(2)}`);
  t.notOk(i.leak, `idle: ${(i.slopeBytesPerS / 1024).toFixed(0)} KiB/s`);
});

t.test('a live view: /proc files kept open read the process they were opened for, and a rollup carried forward by status follows private memory', async (t) => {
  const files = new ProcFiles();
  t.teardown(() => files.close());
  const c = child(
    t,
    `const keep = [];
    process.on('message', (m) => {
      if (m.step === 'alloc') keep.push(Buffer.alloc(64 << 20, 1));
      process.send({ done: true });
    });
    process.send({ done: true });`,
  );
  await once(c, 'message');
  const pid = c.pid!;
  const status = files.read(pid, 'status')!;
  t.match(status, new RegExp(`^Pid:\\s+${pid}$`, 'm'), 'status of the child, from a kept descriptor');
  const full = sampleMemoryWith(pid, status, cpuSeconds(pid)!)!;
  await step(c, { step: 'alloc' });
  const carried = carryForward(full, statusMemory(files.read(pid, 'status')!), Date.now(), cpuSeconds(pid)!);
  const fresh = sampleMemory(pid)!;
  t.ok(carried.privateBytes - full.privateBytes >= 62 * MiB, `carried private grew by ${((carried.privateBytes - full.privateBytes) / MiB).toFixed(1)} MiB for a 64 MiB buffer`);
  t.ok(Math.abs(carried.privateBytes - fresh.privateBytes) <= 2 * MiB, `and is within 2 MiB of a fresh rollup (${(carried.privateBytes / MiB).toFixed(1)} against ${(fresh.privateBytes / MiB).toFixed(1)} MiB)`);
  t.ok(Math.abs(carried.rss - fresh.rss) <= 2 * MiB, 'rss from status matches the rollup\'s');
  c.kill('SIGKILL');
  await once(c, 'exit');
  t.equal(files.read(pid, 'stat'), null, 'a reaped process reads as gone through the descriptor kept for it');
  t.equal(files.read(pid, 'status'), null, 'status too');
});

t.test('a live view rolls up a process larger than ROLLUP_RSS proportionally less often (its rollup costs more), up to 8 times less', async (t) => {
  t.equal(rollupInterval(30_000, 60 * MiB), 30_000, 'a 60 MiB gateway or container: every rollupMs');
  t.equal(rollupInterval(30_000, 4 * ROLLUP_RSS), 120_000, 'four times ROLLUP_RSS: four times as long');
  t.equal(rollupInterval(30_000, 2048 * MiB), 240_000, 'at most eight times as long');
  const files = new ProcFiles();
  t.teardown(() => files.close());
  const script = (mib: number) => `const keep = Buffer.alloc(${mib} << 20, 1); process.send({ done: true }); setInterval(() => keep[0]++, 1000);`;
  const small = child(t, script(0));
  const big = child(t, script(384));
  await Promise.all([once(small, 'message'), once(big, 'message')]);
  const rollupMs = 6000;
  const samples = new ProcessSamples(1000, {}, files, rollupMs);
  const intervals = [small.pid!, big.pid!].map((pid) => {
    samples.take(pid, 1000, true, cpuSeconds(pid)!);
    // The first schedule is spread over the interval; from the second rollup on it is the interval.
    const second = samples.rollupDueAt(pid)!;
    samples.take(pid, second, true, cpuSeconds(pid)!);
    const rss = samples.memory(pid)!.rss;
    return { rss, interval: samples.rollupDueAt(pid)! - second };
  });
  t.equal(intervals[0].interval, rollupMs, `the plain node child (${(intervals[0].rss / MiB).toFixed(0)} MiB resident) every rollupMs`);
  t.ok(intervals[1].rss > 384 * MiB, `the child holding 384 MiB is resident as much (${(intervals[1].rss / MiB).toFixed(0)} MiB)`);
  // (RSS from status just after the rollup: a page or two off the rollup's own.)
  t.ok(Math.abs(intervals[1].interval - rollupInterval(rollupMs, intervals[1].rss)) <= rollupMs / 50, `and is rolled up every ${(intervals[1].interval / 1000).toFixed(1)} s: its RSS over ROLLUP_RSS times rollupMs`);
  t.ok(intervals[1].interval >= 4 * rollupMs, 'at least four times as long');
});
