// npm run bench:flows — what a flow costs, measured with wrk (an independent C client) at one
// connection: a 3-step flow (one domain, and three) against one call of its last function, the
// same three functions called by the client one after the other, and the copying chain users
// build today (gateway → function → function → function over HTTP, each forwarding a full copy),
// at 1 KiB and 1 MiB. Rounds interleave the cells; medians are reported. Writes its section of
// BENCHMARKS.md between markers unless --no-write. Flags: --rounds N (3), --seconds S (3), --quick.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeMachine } from '../machine.js';
import { markdownTable, writeBlock } from '../markdown.js';
import { median } from '../summary.js';
import { packageRoot } from '../process.js';
import { startCopyChains, startFaasflow } from './setups.js';
import { hasWrk, prepare, runWrk, type WrkResult } from '../wrk.js';

const BEGIN = '<!-- bench:flows:begin — written by `npm run bench:flows`; edit outside the markers -->';
const END = '<!-- bench:flows:end -->';
const HEADING = '## Flows';
const SIZES = { '1 KiB': 1024, '1 MiB': 1 << 20 } as const;
type Size = keyof typeof SIZES;

const us = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} ms` : `${Math.round(n)} µs`);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
  const quick = args.includes('--quick');
  const rounds = opt('--rounds', quick ? 1 : 3);
  const seconds = opt('--seconds', quick ? 1 : 3);
  if (!(await hasWrk())) throw new Error('wrk is not installed: apt-get install wrk (the benchmark measures with an independent client)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-flows-'));
  const machine = describeMachine();
  const w = prepare(dir, { '1 KiB': SIZES['1 KiB'], '1 MiB': SIZES['1 MiB'] });
  const ff = await startFaasflow(dir).catch((err: unknown) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  let copy: Awaited<ReturnType<typeof startCopyChains>> | undefined;
  const cleanup = async () => {
    await Promise.allSettled([ff.stop(), copy?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const cells: Record<string, (size: Size) => string> = {
    'faasflow, one call of the last step': () => `${ff.url}/function/3`,
    'faasflow, 3-step flow, one domain': () => `${ff.url}/flow/chain`,
    'faasflow, 3-step flow, three domains': () => `${ff.url}/flow/chain-x`,
    'faasflow, a pass-through step called alone': () => `${ff.url}/function/1`,
    'copying chain, gateway → one function': () => copy!.one,
    'copying chain, gateway → 3 functions': () => copy!.three,
  };
  const results = new Map<string, WrkResult[]>();
  try {
    copy = await startCopyChains(dir);
    for (let r = 0; r < rounds; r++) {
      for (const size of Object.keys(SIZES) as Size[]) {
        for (const [name, url] of Object.entries(cells)) {
          const res = await runWrk(url(size), w.script, w.body(size), 1, seconds);
          if (res.errors || res.non2xx) throw new Error(`${name}, ${size}: ${res.errors} errors, ${res.non2xx} non-2xx answers`);
          const key = `${size}|${name}`;
          results.set(key, [...(results.get(key) ?? []), res]);
          process.stderr.write(`round ${r + 1}/${rounds} ${size} ${name}: p50 ${us(res.p50)}\n`);
        }
      }
    }
  } finally {
    await cleanup();
  }
  const p50 = (size: Size, name: string) => median(results.get(`${size}|${name}`)!.map((x) => x.p50));
  const p99 = (size: Size, name: string) => median(results.get(`${size}|${name}`)!.map((x) => x.p99));
  const rows: string[][] = [];
  for (const size of Object.keys(SIZES) as Size[]) {
    for (const name of Object.keys(cells)) rows.push([size, name, us(p50(size, name)), us(p99(size, name))]);
    // The client calling the steps itself: two pass-through calls (the body goes up and comes back) and the last one.
    const calls = 2 * p50(size, 'faasflow, a pass-through step called alone') + p50(size, 'faasflow, one call of the last step');
    rows.push([size, 'faasflow, the 3 steps as 3 client calls (sum of p50s)', us(calls), '']);
  }
  const one = (size: Size) => p50(size, 'faasflow, one call of the last step');
  const flow = (size: Size) => p50(size, 'faasflow, 3-step flow, one domain');
  const perStep = (flow('1 KiB') - one('1 KiB')) / 2;
  const ratio = flow('1 MiB') / one('1 MiB');
  const findings = [
    `Each step a flow adds costs ${us(perStep)} p50 at 1 KiB (target ≤ 40 µs: ${perStep <= 40 ? 'met' : 'missed'}).`,
    `A 3-step 1 MiB flow in one domain costs ${ratio.toFixed(2)}× one 1 MiB call (target ≤ 1.3×: ${ratio <= 1.3 ? 'met' : 'missed'}); across three domains ${(p50('1 MiB', 'faasflow, 3-step flow, three domains') / one('1 MiB')).toFixed(2)}× (two copies of the body).`,
    `The copying chain's three functions cost ${(p50('1 MiB', 'copying chain, gateway → 3 functions') / p50('1 MiB', 'copying chain, gateway → one function')).toFixed(2)}× its one function at 1 MiB.`,
  ];
  const table = markdownTable(['body', 'setup (wrk, 1 connection)', 'p50', 'p99'], rows);
  console.log(`${table}\n\n${findings.join('\n')}`);
  if (args.includes('--no-write') || quick) return;
  const block = `${BEGIN}\n\nMeasured ${new Date().toISOString()} on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}; load average before: ${machine.loadBefore.join(' ')}.\nCommand: \`npm run bench:flows${args.length ? ` -- ${args.join(' ')}` : ''}\`: wrk -t1 -c1, ${seconds} s a cell, medians of ${rounds} interleaved rounds.\n\n${table}\n\n${findings.map((f) => `- ${f}`).join('\n')}\n\n${END}`;
  const file = path.join(packageRoot(), 'BENCHMARKS.md');
  writeBlock(file, HEADING, BEGIN, END, block);
  console.log(`\nwrote the "Flows" section of ${file}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
