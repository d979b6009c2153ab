// The async bench's results: the table printed at the end of the run and the block it writes in
// BENCHMARKS.md between its own markers (the end-to-end block is the main bench's).
import fs from 'node:fs';
import path from 'node:path';
import { markdownTable, writeBlock } from '../markdown.js';
import type { AsyncBenchResult, AsyncCell } from './run.js';

export const ASYNC_BEGIN = '<!-- bench:async:begin — written by `npm run bench` (or `npm run bench -- --async-only`); edit outside the markers -->';
export const ASYNC_END = '<!-- bench:async:end -->';
const HEADING = '## Async requests: accepted (202) vs a synchronous call';

/** The targets: a 202 at most this many times the synchronous call's p50 (1 connection)… */
export const P50_RATIO_TARGET = 1.5;
/** …and at least this many accepted requests a second (32 connections). */
export const ACCEPTED_TARGET = 5000;

const HEADER = ['setup', 'connections', 'sync p50', 'sync p99', 'sync req/s', '202 p50', '202 p99', 'accepted/s', '202 p50 ÷ sync p50', 'non-2xx (sync / async)'];

const us = (n: number): string => (n >= 1000 ? `${(n / 1000).toFixed(2)} ms` : `${Math.round(n)} µs`);
const count = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (c: AsyncCell): number => (c.sync.p50 > 0 ? c.async.p50 / c.sync.p50 : Infinity);

export function asyncRows(r: AsyncBenchResult): string[][] {
  return r.cells.map((c) => [c.setup, String(c.connections), us(c.sync.p50), us(c.sync.p99), count(c.sync.rps), us(c.async.p50), us(c.async.p99), count(c.async.rps), `${ratio(c).toFixed(2)}×`, `${c.syncNon2xx} / ${c.asyncNon2xx}`]);
}

export function asyncTargets(r: AsyncBenchResult, setup: string): { name: string; value: string; met: boolean }[] {
  const one = r.cells.find((c) => c.setup === setup && c.connections === 1);
  const many = r.cells.find((c) => c.setup === setup && c.connections === 32);
  return [
    ...(one ? [{ name: `${setup}: 202 p50 ≤ ${P50_RATIO_TARGET}× the sync call's (1 connection)`, value: `${ratio(one).toFixed(2)}×`, met: ratio(one) <= P50_RATIO_TARGET }] : []),
    ...(many ? [{ name: `${setup}: ≥ ${count(ACCEPTED_TARGET)} accepted/s (32 connections)`, value: count(many.async.rps), met: many.async.rps >= ACCEPTED_TARGET }] : []),
  ];
}

/** The targets for each durability this build was run with. */
const allTargets = (r: AsyncBenchResult) => ['faasflow', 'faasflow process'].flatMap((s) => asyncTargets(r, s));

export function printAsync(r: AsyncBenchResult, log: (line: string) => void): void {
  log('\nAsync requests (1 KiB, wrk; medians of rounds):');
  const rows = [HEADER, ...asyncRows(r)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((x) => x[i].length)));
  for (const row of rows) log(`  ${row.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()}`);
  for (const t of allTargets(r)) log(`  target ${t.name}: ${t.value} ${t.met ? 'met' : 'NOT MET'}`);
}

export function renderAsyncBlock(r: AsyncBenchResult): string {
  const m = r.machine;
  return [
    ASYNC_BEGIN,
    '',
    `Measured on ${m.cpu}, ${m.cores} cores · Node ${m.node} · ${m.os} · load average ${m.loadBefore.join(' ')} before the run · \`${r.command}\` · ${r.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} · ${r.prime} s priming, ${r.duration} s cells after ${r.warmup} s warm-up, ${r.rounds} round${r.rounds > 1 ? 's' : ''}.`,
    '',
    'One instance with `async: {}` and the bench function (answers the body\'s length), 1 KiB bodies, wrk `-t1` keep-alive POSTs.',
    '"sync" is `POST /function/1`, "202" is `POST /async-function/1` on the same instance in the same round (a 202 is sent once the',
    'gateway has written the request to its journal and fdatasync\'d it, on the disk under the run\'s temporary directory; "faasflow process" is the same build with',
    '`async: { durability: \'process\' }`: written to the OS, no fdatasync, so it survives a killed process but not a power cut). The queue runs what was accepted meanwhile',
    '(it shares the cores); each cell starts once the previous one\'s backlog has run. "baseline" and "baseline process" are `--baseline DIR` (another checkout) in the same run.',
    '',
    markdownTable(HEADER, asyncRows(r)),
    '',
    markdownTable(['target', 'value', 'met'], allTargets(r).map((t) => [t.name, t.value, t.met ? 'yes' : '**no**'])),
    '',
    ASYNC_END,
  ].join('\n');
}

export function writeAsyncBlock(file: string, r: AsyncBenchResult): void {
  writeBlock(file, HEADING, ASYNC_BEGIN, ASYNC_END, renderAsyncBlock(r));
}

/** Prints the result, writes it as JSON under `outDir` and, unless `markdown` is '', its block there. */
export function saveAsync(o: { outDir: string; markdown: string }, r: AsyncBenchResult, log: (line: string) => void): AsyncBenchResult {
  printAsync(r, log);
  fs.mkdirSync(o.outDir, { recursive: true });
  const file = path.join(o.outDir, `async-${r.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  if (o.markdown) writeAsyncBlock(o.markdown, r);
  log(`\nwrote ${file}${o.markdown ? ` and the async block of ${o.markdown}` : ''}`);
  return r;
}
