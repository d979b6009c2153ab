// The harness's arithmetic and its BENCHMARKS.md rewrite, on hand-made measurements.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BEGIN, END, updateMarkdown } from '../../src/bench/markdown.js';
import { parseSetups, parseSize, parseSizes, resolveOptions, sizeLabel } from '../../src/bench/options.js';
import { summarize, summarizeCells } from '../../src/bench/summary.js';
import { evaluateTargets } from '../../src/bench/targets.js';
import { scalingModel } from '../../src/bench/scaling.js';
import { describeMachine } from '../../src/bench/machine.js';
import type { BenchResult, CellResult, SetupName } from '../../src/bench/types.js';

const KiB = 1024;
const MiB = 1024 * KiB;

t.test('sizes are read as people write them and refused clearly otherwise', async (t) => {
  t.equal(parseSize('1k'), KiB);
  t.equal(parseSize('16MiB'), 16 * MiB);
  t.equal(parseSize('100 KB'), 100 * KiB);
  t.equal(parseSize('512'), 512);
  t.same(parseSizes('1m,1k,1k'), [KiB, MiB]);
  t.throws(() => parseSize('1x'), /cannot read "1x" as a size/);
  t.throws(() => parseSize('0'), /at least 1 byte/);
  t.throws(() => parseSize('1g'), /cannot read/);
  t.throws(() => parseSetups('floor,nginx'), /unknown setup "nginx"/);
  t.same(parseSetups('faasflow,floor'), ['floor', 'faasflow'], 'canonical order, so cells alternate floor, copy, faasflow');
  t.equal(sizeLabel(16 * MiB), '16 MiB');
  t.equal(sizeLabel(1536), '1.5 KiB');
  t.throws(() => resolveOptions({ rounds: 0 }), /--rounds/);
  t.throws(() => resolveOptions({ duration: -1 }), /--duration/);
  t.equal(resolveOptions({ quick: true }).markdown, '', 'a quick run leaves BENCHMARKS.md alone');
  t.equal(resolveOptions({}).markdown, 'BENCHMARKS.md');
  t.same(resolveOptions({}).sizes, [KiB, 10 * KiB, 100 * KiB, MiB, 5 * MiB, 16 * MiB]);
  t.same(resolveOptions({ quick: true }).sizes, [KiB, MiB, 5 * MiB], 'a quick run keeps the sizes the targets name');
});

t.test('percentiles are nearest-rank over every sample, in µs', async (t) => {
  const s = summarize(Float64Array.from({ length: 1000 }, (_, i) => 1000 - i));
  t.equal(s.count, 1000);
  t.equal(s.p50, 500);
  t.equal(s.p90, 900);
  t.equal(s.p99, 990);
  t.equal(s.max, 1000);
  t.equal(s.mean, 500.5);
  t.same(summarize(new Float64Array(0)), { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  t.equal(summarize(Float64Array.of(97.25)).p50, 97.25, 'sub-millisecond values keep their fraction');
});

function cell(setup: SetupName, size: number, connections: number, round: number, p50: number, rps: number, extra: Partial<CellResult> = {}): CellResult {
  return {
    setup, size, connections, round, seconds: 1, rps, non2xx: 0, errors: 0, timeouts: 0,
    latency: { count: 100, mean: p50, p50, p90: p50 * 1.5, p99: p50 * 2, p999: p50 * 2.5, max: p50 * 3 },
    cpu: { serverUs: 100 * p50 * 0.5, serverWaitUs: 0, loadUs: 0 },
    ...extra,
  };
}

t.test('rounds fold into medians; a failed round is counted and left out', async (t) => {
  const s = summarizeCells([
    cell('floor', KiB, 1, 0, 100, 9000),
    cell('floor', KiB, 1, 1, 120, 8000),
    cell('floor', KiB, 1, 2, 90, 9500),
    cell('copy', KiB, 1, 0, 300, 3000),
    cell('copy', KiB, 1, 1, 1, 1, { errors: 5 }),
  ]);
  const floor = s.find((c) => c.setup === 'floor');
  t.equal(floor?.p50, 100);
  t.equal(floor?.rps, 9000);
  t.equal(floor?.max, 360);
  t.same(floor?.p50Range, [90, 120]);
  t.equal(floor?.cpuPerRequest, 50, 'CPU µs per answered request, median of rounds');
  const copy = s.find((c) => c.setup === 'copy');
  t.equal(copy?.failures, 1);
  t.equal(copy?.p50, 300, 'the failed round does not pull the median');
});

t.test('targets compare faasflow with the references measured in the same run', async (t) => {
  const summary = summarizeCells([
    cell('floor', KiB, 1, 0, 100, 10000),
    cell('copy', KiB, 1, 0, 400, 2500),
    cell('faasflow', KiB, 1, 0, 140, 7000),
    cell('floor', KiB, 32, 0, 1000, 20000),
    cell('copy', KiB, 32, 0, 5000, 5000),
    cell('faasflow', KiB, 32, 0, 1500, 13000),
  ]);
  const targets = Object.fromEntries(evaluateTargets(summary, [KiB]).map((x) => [x.id, x]));
  t.equal(targets['latency-1k-floor'].ratio, 1.4);
  t.equal(targets['latency-1k-floor'].met, true);
  t.equal(targets[`latency-${KiB}-copy`].ratio, 0.35);
  t.equal(targets[`latency-${KiB}-copy`].met, true);
  t.equal(targets['throughput-1k-floor'].ratio, 0.65);
  t.equal(targets['throughput-1k-floor'].met, false, '0.65× floor misses the 0.75× bar');
  t.equal(targets['tail-1k-floor'].ratio, 1.5, 'p99 3000 µs against 2000 µs');
  t.equal(targets['tail-1k-floor'].met, true);
  t.equal(targets['throughput-1k-copy'].ratio, 2.6);
  t.equal(targets['throughput-1k-copy'].met, true);
  t.equal(targets['latency-1m-floor'].met, null, 'no 1 MiB cells: not measured, neither met nor missed');
  t.equal(targets['gc-share'].met, null, 'no GC log: not measured');
  t.notOk(targets['non2xx-1048576-32'], 'no 1 MiB in the run: no large-body targets');

  // Large bodies at 32 connections: no non-2xx answer, at most twice the body's bytes held.
  const big = summarizeCells([
    cell('floor', MiB, 32, 0, 9000, 900),
    cell('faasflow', MiB, 32, 0, 8000, 950, { heldPerByte: 1.01 }),
    cell('faasflow', MiB, 32, 1, 8000, 940, { heldPerByte: 1.03 }),
    cell('faasflow', 5 * MiB, 32, 0, 30000, 200, { heldPerByte: 1.7, non2xx: 3 }),
  ]);
  const b = Object.fromEntries(evaluateTargets(big, [MiB, 5 * MiB]).map((x) => [x.id, x]));
  t.match(b['throughput-1m-floor'], { ratio: 950 / 900 + (940 - 950) / 900 / 2, met: true }, '1 MiB × 32: req/s against the floor, median of rounds');
  t.match(b[`non2xx-${MiB}-32`], { ratio: 0, met: true, unit: 'n' });
  t.match(b[`held-${MiB}-32`], { ratio: 1.02, met: true }, 'bytes held per byte: median of rounds');
  t.match(b[`non2xx-${5 * MiB}-32`], { ratio: 3, met: false }, 'a round with non-2xx answers misses the target');
  t.match(b[`held-${5 * MiB}-32`], { ratio: 1.7, met: true });

  // With a cluster floor in the run, the floor targets are against it.
  const withCluster = summarizeCells([
    cell('floor', KiB, 32, 0, 1000, 20000),
    cell('cluster', KiB, 32, 0, 800, 30000),
    cell('faasflow', KiB, 32, 0, 1500, 24000, { gc: { percent: 1.5, maxPauseMs: 4, count: 10 } }),
  ]);
  const c = Object.fromEntries(evaluateTargets(withCluster, [KiB]).map((x) => [x.id, x]));
  t.equal(c['throughput-1k-floor'].ratio, 0.8, 'req/s against the cluster, not the one process');
  t.match(c['throughput-1k-floor'].description, /cluster floor/);
  t.equal(c['gc-share'].ratio, 1.5);
  t.equal(c['gc-share'].met, true);
  t.equal(c['gc-pause'].met, false, 'a 4 ms pause misses the 3 ms bar');
});

t.test('the scaling model splits cores between gateways and containers by their CPU per request', async (t) => {
  const summary = summarizeCells([
    cell('floor', KiB, 32, 0, 1000, 20000, { cpu: { serverUs: 100 * 40, serverWaitUs: 0, loadUs: 0 } }),
    cell('faasflow', KiB, 32, 0, 1500, 13000, { cpu: { serverUs: 100 * 60, serverWaitUs: 0, loadUs: 0, byRole: { gateway: 100 * 30, container: 100 * 30, supervisor: 0 } } }),
  ]);
  const m = scalingModel(summary, [2, 8]);
  t.equal(m?.gatewayUs, 30);
  t.equal(m?.containerUs, 30);
  t.equal(m?.floorUs, 40);
  t.same(m?.rows.map((r) => [r.cores, r.gateways, Math.round(r.faasflow), Math.round(r.floor)]), [[2, 1, 33333, 50000], [8, 4, 133333, 200000]], 'half the cores each; the floor carries cores ÷ 40 µs');
  t.equal(scalingModel(summarizeCells([cell('floor', KiB, 32, 0, 1, 1)])), undefined, 'no faasflow roles: no model');
});

t.test('BENCHMARKS.md: the results block is replaced in place and other sections survive', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-md-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'BENCHMARKS.md');
  const core = '## Shared-memory core\n\nalloc/free: 80 ns (someone else wrote this)\n';
  fs.writeFileSync(file, `# Benchmarks\n\n${core}`);
  const cells = [cell('floor', KiB, 1, 0, 100, 10000), cell('copy', KiB, 1, 0, 400, 2500), cell('faasflow', KiB, 1, 0, 140, 7000)];
  const summary = summarizeCells(cells);
  const result: BenchResult = {
    date: '2026-11-22T02:00:00.000Z',
    machine: describeMachine(),
    options: resolveOptions({ sizes: '1k', connections: '1' }),
    cells,
    summary,
    targets: evaluateTargets(summary, [KiB]),
  };
  updateMarkdown(file, result);
  const once = fs.readFileSync(file, 'utf8');
  t.ok(once.includes(core), 'the shared-memory section is untouched');
  t.match(once, /\| 1 KiB \| faasflow \| 140 µs \| 280 µs \| 350 µs \| 420 µs \| 7000 \| 0 \| 70 µs \| 1\.40× \| 1\.40× \| 0\.70× \| 0\.35× \| 2\.80× \| {2}\|/);
  t.match(once, /1 KiB, 1 conn: faasflow p50 ≤ 1\.5× floor \| 1\.40× \| met \|/);
  t.match(once, /1 MiB, 1 conn: faasflow p50 ≤ 1\.2× floor \| — \| not measured \|/);
  fs.appendFileSync(file, '\n## Notes\n\nwritten after the block\n');
  updateMarkdown(file, { ...result, summary: summarizeCells([...cells.slice(0, 2), cell('faasflow', KiB, 1, 0, 200, 5000)]) });
  const twice = fs.readFileSync(file, 'utf8');
  t.equal(twice.split(BEGIN).length, 2, 'one block, not two');
  t.equal(twice.split(END).length, 2);
  t.match(twice, /\| 1 KiB \| faasflow \| 200 µs \|/);
  t.notMatch(twice, /\| 1 KiB \| faasflow \| 140 µs \|/);
  t.ok(twice.includes(core) && twice.includes('written after the block'), 'text on both sides survives');
});
