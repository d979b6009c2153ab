// `npm run bench:scale`: elastic functions measured on a real instance (`faasflow up`). A function
// at `scale: { min: 0 }` whose handler waits 50 ms (I/O-like: replicas, not CPUs, carry it):
//   1. cold starts from zero: the function idles to zero, then one request, timed end to end;
//   2. an open-loop ramp with the C fixed-rate client (rate.ts) from 0 up to a rate that needs
//      several replicas and back down, one ffrate run per step: failed requests, p99 per step, and
//      when each replica count was first reached;
//   3. PRIVATE memory of the instance's processes at zero before and after.
// Prints a Markdown block for BENCHMARKS.md. Scale events come from the scaler's own clock (100 ms
// samples, 5 ms demand checks at zero).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ProcessTable, Segment } from '../shm/index.js';
import { freePort } from './faasflow.js';
import { packageRoot } from './process.js';
import { buildRate, runRate, type RateResult } from './rate.js';

const HANDLER = 'export default async function (): Promise<string> {\n  await new Promise((r) => setTimeout(r, 50));\n  return \'ok\';\n}\n';
/** A replica carries concurrency 4 / 50 ms = 80 req/s; target 4: the top step needs 4-5 replicas. */
const SCALE = { min: 0, max: 6, target: 4, idle: '2s' };
const STEPS = [20, 50, 100, 200, 300, 300, 200, 100, 50, 20];
const STEP_SECONDS = 2;
const COLD = Number(process.env.FAASFLOW_BENCH_COLD ?? 10);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function post(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/function/1', method: 'POST', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end('x');
  });
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-scale-'));
  const instance = `bench-scale-${process.pid}`;
  const port = await freePort();
  const bin = path.join(packageRoot(), 'bin', 'run.js');
  const env = { FAASFLOW_STATE_DIR: path.join(dir, 'state'), NO_COLOR: '1' };
  const cli = (args: string[]) => execa(process.execPath, [bin, ...args, '--instance', instance], { cwd: dir, env, reject: false, stdin: 'ignore' });
  fs.writeFileSync(path.join(dir, 'work.ts'), HANDLER);
  fs.writeFileSync(path.join(dir, 'body'), 'x');
  fs.writeFileSync(path.join(dir, 'faasflow.config.ts'), `export default {\n  gateway: { port: ${port} },\n  runtimeDir: ${JSON.stringify(path.join(dir, 'rt'))},\n  segment: { size: '64MiB' },\n  functions: [{ id: 1, name: 'work', handler: './work.ts', concurrency: 4, scale: ${JSON.stringify(SCALE)} }],\n};\n`);
  const up = await cli(['up']);
  if (up.exitCode !== 0) throw new Error(`faasflow up failed: ${String(up.stderr)}`);
  let seg: Segment | undefined;
  try {
    seg = Segment.open(`/faasflow-${instance}`, false);
    const table = new ProcessTable(seg);
    const containers = () => table.entries().filter((e) => e.role === 'container');
    const atZero = async () => {
      for (const end = Date.now() + 60_000; containers().length > 0; await sleep(20)) if (Date.now() > end) throw new Error('the function did not return to zero within 60 s');
    };
    const privateBytes = async () => {
      const s = JSON.parse(String((await cli(['ps', '--json'])).stdout)) as { children: { memory: { privateBytes: number } | null }[] };
      return s.children.reduce((a, c) => a + (c.memory?.privateBytes ?? 0), 0);
    };
    await atZero();
    await sleep(1000);
    const before = await privateBytes();

    const cold: number[] = [];
    for (let i = 0; i < COLD; i++) {
      await atZero();
      const t0 = performance.now();
      const status = await post(port);
      cold.push(performance.now() - t0 - 50);
      if (status !== 200) throw new Error(`cold request answered ${status}`);
    }

    await atZero();
    const rate = await buildRate(path.join(dir, 'bin'));
    const reached = new Map<number, number>();
    const t0 = performance.now();
    let most = 0;
    const watch = setInterval(() => {
      const ready = containers().filter((e) => e.state === 'ready').length;
      most = Math.max(most, containers().length);
      if (!reached.has(ready)) reached.set(ready, performance.now() - t0);
    }, 10);
    const steps: (RateResult & { rate: number })[] = [];
    try {
      for (const r of STEPS) steps.push({ rate: r, ...(await runRate(rate, { url: `http://127.0.0.1:${port}/function/1`, bodyFile: path.join(dir, 'body'), rate: r, connections: 64, seconds: STEP_SECONDS })) });
    } finally {
      clearInterval(watch);
    }
    const rampEnd = performance.now();
    await atZero();
    const backAtZero = performance.now() - rampEnd;
    await sleep(1000);
    const after = await privateBytes();

    const failed = steps.reduce((a, s) => a + s.non2xx + s.errors + s.timeouts + (s.intended - s.answered), 0);
    const MiB = 1024 * 1024;
    const lines = [
      `### bench:scale (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} vCPU, load average ${os.loadavg()[0].toFixed(2)} at the end)`,
      '',
      `Function: handler waits 50 ms, concurrency 4, \`scale: ${JSON.stringify(SCALE).replace(/"/g, '')}\`; ramp ${STEPS.join(' → ')} req/s, ${STEP_SECONDS} s a step (ffrate, 64 connections, open loop).`,
      '',
      '| measure | value |',
      '|---|---|',
      `| cold start from zero, no spare (request time less the handler's 50 ms), ${COLD} samples | p50 ${pct(cold, 50).toFixed(1)} ms, p99 ${pct(cold, 99).toFixed(1)} ms, min ${Math.min(...cold).toFixed(1)} ms |`,
      `| failed requests over the ramp (non-2xx, errors, timeouts, unanswered) | ${failed} of ${steps.reduce((a, s) => a + s.intended, 0)} |`,
      `| p99 per step (ms) | ${steps.map((s) => `${s.rate}/s: ${(s.p99 / 1000).toFixed(0)}`).join(', ')} |`,
      `| ready replicas first reached (ms after the ramp began) | ${[...reached].filter(([n]) => n > 0).sort((a, b) => a[0] - b[0]).map(([n, ms]) => `${n}: ${ms.toFixed(0)}`).join(', ')} |`,
      `| most container processes at once (max ${SCALE.max}) | ${most} |`,
      `| back at zero after the ramp | ${(backAtZero / 1000).toFixed(1)} s (idle ${SCALE.idle}, one step down per idle window) |`,
      `| PRIVATE memory of the instance at zero, before / after | ${(before / MiB).toFixed(1)} MiB / ${(after / MiB).toFixed(1)} MiB (${(((after - before) / before) * 100).toFixed(1)} %) |`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    seg?.close();
    await cli(['down', '--clean-shm', '--purge']);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scale failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
