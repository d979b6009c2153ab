// `npm run bench:scale`: elastic functions measured on a real instance (`faasflow up`). A function
// at `scale: { min: 0 }` whose handler waits 50 ms (I/O-like: replicas, not CPUs, carry it):
//   1. cold starts from zero, with and without a warm spare, alternated in the same run: two
//      functions answering at once, each in a domain of its own, one keeping a spare (the default
//      at min 0) and one `spares: 0`; each idles to zero, then one request, timed end to end;
//   2. an open-loop ramp with the C fixed-rate client (rate.ts) from 0 up to a rate that needs
//      several replicas and back down, one ffrate run per step: failed requests, p99 per step, and
//      when each replica count was first reached;
//   3. PRIVATE memory of the instance's processes at zero before and after.
// Prints a Markdown block and writes it into BENCHMARKS.md between its markers (not with --no-markdown). Scale events come from the scaler's own clock (100 ms
// samples), and at zero from the gateway's demand message. --cold-only: step 1 alone, with the
// timeline of the starts without a spare (scale-cold.ts); printed, never written. --help: usage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ProcessTable, Segment } from '../shm/index.js';
import { freePort } from './faasflow.js';
import { packageRoot } from './process.js';
import { buildRate, runRate, type RateResult } from './rate.js';
import { writeBlock } from './markdown.js';
import { coldStarts, pct, timelineRow } from './scale-cold.js';

const USAGE = `usage: npm run bench:scale -- [--cold-only] [--no-markdown]
  --cold-only    only the cold starts from zero (with and without a spare) and the timeline of
                 those without one; printed, BENCHMARKS.md is left alone
  --no-markdown  print the results without writing them into BENCHMARKS.md
  FAASFLOW_BENCH_COLD=N  cold-start samples of each kind (default 20)
`;
const coldOnly = process.argv.includes('--cold-only');

const BEGIN = '<!-- bench:scale:begin — written by `npm run bench:scale`; edit outside the markers -->';
const END = '<!-- bench:scale:end -->';
const HEADING = '## Elastic functions';

const HANDLER = 'export default async function (): Promise<string> {\n  await new Promise((r) => setTimeout(r, 50));\n  return \'ok\';\n}\n';
const INSTANT = 'export default async function (): Promise<string> {\n  return \'ok\';\n}\n';
/** The cold-start functions: 2 keeps a spare, 3 none; idle 1 s brings each back to zero quickly. */
const COLD_SCALE = { min: 0, max: 1, idle: '1s' };
/** A replica carries concurrency 4 / 50 ms = 80 req/s; target 4: the top step needs 4-5 replicas. */
const SCALE = { min: 0, max: 6, target: 4, idle: '2s' };
const STEPS = [20, 50, 100, 200, 300, 300, 200, 100, 50, 20];
const STEP_SECONDS = 2;
const COLD = Number(process.env.FAASFLOW_BENCH_COLD ?? 20);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const loadBefore = os.loadavg()[0];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-scale-'));
  const instance = `bench-scale-${process.pid}`;
  const port = await freePort();
  const bin = path.join(packageRoot(), 'bin', 'run.js');
  const env = { FAASFLOW_STATE_DIR: path.join(dir, 'state'), NO_COLOR: '1' };
  const cli = (args: string[]) => execa(process.execPath, [bin, ...args, '--instance', instance], { cwd: dir, env, reject: false, stdin: 'ignore' });
  fs.writeFileSync(path.join(dir, 'work.ts'), HANDLER);
  fs.writeFileSync(path.join(dir, 'instant.ts'), INSTANT);
  const cold = (id: number, name: string, spares: number) => `{ id: ${id}, name: '${name}', handler: './instant.ts', scale: ${JSON.stringify({ ...COLD_SCALE, spares })} }`;
  fs.writeFileSync(path.join(dir, 'body'), 'x');
  fs.writeFileSync(path.join(dir, 'faasflow.config.ts'), `export default {\n  gateway: { port: ${port} },\n  runtimeDir: ${JSON.stringify(path.join(dir, 'rt'))},\n  segment: { size: '64MiB' },\n  functions: [{ id: 1, name: 'work', handler: './work.ts', concurrency: 4, scale: ${JSON.stringify(SCALE)} }, ${cold(2, 'warm', 1)}, ${cold(3, 'fresh', 0)}],\n};\n`);
  const up = await cli(['up']);
  if (up.exitCode !== 0) throw new Error(`faasflow up failed: ${String(up.stderr)}`);
  let seg: Segment | undefined;
  try {
    seg = Segment.open(`/faasflow-${instance}`, false);
    const table = new ProcessTable(seg);
    const containers = (id = 1) => table.entries().filter((e) => e.role === 'container' && e.functionId === id);
    const atZero = async (id = 1) => {
      for (const end = Date.now() + 60_000; containers(id).length > 0; await sleep(20)) if (Date.now() > end) throw new Error(`function ${id} did not return to zero within 60 s`);
    };
    const status = async () => JSON.parse(String((await cli(['ps', '--json'])).stdout)) as { children: { spare?: boolean; memory: { privateBytes: number; pss: number } | null }[]; spares?: { domain: string; warm: number }[] };
    const privateBytes = async () => (await status()).children.reduce((a, c) => a + (c.memory?.privateBytes ?? 0), 0);
    const spareWarm = async (domain = 'warm') => {
      for (const end = Date.now() + 30_000; !(await status()).spares?.some((s) => s.domain === domain && s.warm === 1); await sleep(50)) if (Date.now() > end) throw new Error(`no warm spare in domain ${domain} within 30 s`);
    };
    await atZero();
    await spareWarm();
    await spareWarm('work');
    // The supervisor loads its type checker after `up` (~100 MiB): measured before it is warm, the
    // instance's memory would seem to grow over the ramp by what the checker holds.
    await checkerWarm(path.join(dir, 'rt'));
    await sleep(1000);
    const before = await privateBytes();
    const spareMemory = (await status()).children.filter((c) => c.spare && c.memory).map((c) => c.memory!);

    const cold = await coldStarts({ port, table, samples: COLD, spareId: 2, freshId: 3, atZero, spareWarm: () => spareWarm() });
    const coldWith = cold.withSpare;
    const coldWithout = cold.withoutSpare;
    const coldRows = [
      `| cold start from zero **with a warm spare** (a request to a function at zero that answers at once, end to end), ${COLD} samples | p50 ${pct(coldWith, 50).toFixed(1)} ms, p99 ${pct(coldWith, 99).toFixed(1)} ms, min ${Math.min(...coldWith).toFixed(1)} ms |`,
      `| cold start from zero **without a spare** (\`spares: 0\`), ${COLD} samples, alternated with the above | p50 ${pct(coldWithout, 50).toFixed(1)} ms, p99 ${pct(coldWithout, 99).toFixed(1)} ms, min ${Math.min(...coldWithout).toFixed(1)} ms |`,
    ];
    if (coldOnly) {
      const head = `Measured ${new Date().toISOString()}, ${os.cpus().length} vCPU, Node ${process.version}; load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} at the end. Command: \`npm run bench:scale -- --cold-only\`.`;
      process.stdout.write(`${[head, '', '| measure | value |', '|---|---|', ...coldRows, timelineRow(cold.timeline)].join('\n')}\n`);
      return;
    }
    await atZero(2);
    await atZero(3);
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
    await spareWarm('work');
    await spareWarm();
    await sleep(1000);
    const after = await privateBytes();

    const failed = steps.reduce((a, s) => a + s.non2xx + s.errors + s.timeouts + (s.intended - s.answered), 0);
    const MiB = 1024 * 1024;
    const lines = [
      BEGIN,
      '',
      `Measured ${new Date().toISOString()} on ${os.cpus()[0]?.model ?? 'an unknown CPU'}, ${os.cpus().length} vCPU, Node ${process.version}; load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} at the end. Command: \`npm run bench:scale\`.`,
      '',
      `Function: handler waits 50 ms, concurrency 4, \`scale: ${JSON.stringify(SCALE).replace(/"/g, '')}\`; ramp ${STEPS.join(' → ')} req/s, ${STEP_SECONDS} s a step (ffrate, 64 connections, open loop).`,
      '',
      '| measure | value |',
      '|---|---|',
      ...coldRows,
      timelineRow(cold.timeline),
      `| one warm spare's memory (ps: PSS / PRIVATE) | ${spareMemory.map((m) => `${(m.pss / MiB).toFixed(1)} MiB / ${(m.privateBytes / MiB).toFixed(1)} MiB`).join('; ')} |`,
      `| failed requests over the ramp (non-2xx, errors, timeouts, unanswered) | ${failed} of ${steps.reduce((a, s) => a + s.intended, 0)} |`,
      `| p99 per step (ms) | ${steps.map((s) => `${s.rate}/s: ${(s.p99 / 1000).toFixed(0)}`).join(', ')} |`,
      `| ready replicas first reached (ms after the ramp began) | ${[...reached].filter(([n]) => n > 0).sort((a, b) => a[0] - b[0]).map(([n, ms]) => `${n}: ${ms.toFixed(0)}`).join(', ')} |`,
      `| most container processes at once (max ${SCALE.max}) | ${most} |`,
      `| back at zero after the ramp | ${(backAtZero / 1000).toFixed(1)} s (idle ${SCALE.idle}, one step down per idle window) |`,
      `| PRIVATE memory of the instance at zero (spares included), before / after | ${(before / MiB).toFixed(1)} MiB / ${(after / MiB).toFixed(1)} MiB (${(((after - before) / before) * 100).toFixed(1)} %) |`,
    ];
    lines.push('', END);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (!process.argv.includes('--no-markdown')) writeBlock(path.join(packageRoot(), 'BENCHMARKS.md'), HEADING, BEGIN, END, lines.join('\n'));
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

/** Waits (bounded) for the supervisor's "type checker: warm" line under the instance's runtime directory. */
async function checkerWarm(runtimeDir: string): Promise<void> {
  const logs = () => fs.readdirSync(runtimeDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('supervisor.log'));
  for (const end = Date.now() + 60_000; Date.now() < end; await sleep(100)) {
    if (logs().some((f) => /type checker: (warm|warming up failed)/.test(fs.readFileSync(path.join(runtimeDir, f), 'utf8')))) return;
  }
}
