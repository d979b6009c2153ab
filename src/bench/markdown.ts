// Rewrites the end-to-end results block of BENCHMARKS.md, between markers, leaving every other
// section (the shared-memory core's, anyone's prose) as it was.
import fs from 'node:fs';
import { scalingModel } from './scaling.js';
import { FIXED_HEADER, HEADER, SCALING_HEADER, TARGET_HEADER, cellRows, fixedRows, fixedRuns, fmtMicros, runLine, scalingRows, targetRows } from './table.js';
import { sizeLabel } from './options.js';
import type { BenchResult } from './types.js';

export const BEGIN = '<!-- bench:end-to-end:begin — written by `npm run bench`; edit outside the markers -->';
export const END = '<!-- bench:end-to-end:end -->';
const HEADING = '## End to end: faasflow vs copying path vs bare HTTP floor';

const escape = (s: string): string => s.replace(/\|/g, '\\|');

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map(escape).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function renderBlock(result: BenchResult): string {
  const parts = [
    BEGIN,
    '',
    `Measured on ${runLine(result)}.`,
    '',
    'Load from wrk (`-t1`, keep-alive POSTs; its own histogram, µs). Latency percentiles, req/s and CPU/req are medians across rounds;',
    "max is the largest seen. CPU/req is the on-CPU time of all the setup's processes (every thread, from /proc/<pid>/task/*/schedstat; load generator",
    'excluded) per answered request. Ratios are faasflow ÷ the reference; "floor" is the Node cluster when the run has one. non-2xx: answers',
    'other than 2xx in all rounds. held ÷ body: the packet bytes faasflow held over the body bytes they carried, sampled every 100 ms.',
    '',
  ];
  for (const c of result.options.connections) {
    parts.push(`### ${c} connection${c > 1 ? 's' : ''}`, '', markdownTable(HEADER, cellRows(result, c)), '');
  }
  const gc = result.summary.find((c) => c.setup === 'faasflow' && c.size === 1024 && c.connections === 32)?.gc;
  if (gc) parts.push(`Gateway GC at 1 KiB × 32: ${gc.percent.toFixed(1)} % of wall time (median of rounds), longest pause ${gc.maxPauseMs.toFixed(1)} ms.`, '');
  const fixed = fixedRuns(result);
  if (fixed.length) {
    const f = fixed[0];
    parts.push(
      `### Fixed rate: ${fixed.map((x) => `${x.rate} req/s of ${sizeLabel(x.size)}`).join(', ')}, over ${f.connections} connections, ${f.seconds} s each`,
      '',
      'At each size the rate offered is half what faasflow carried at that size × 32 in this run.',
      'Open loop (ffrate, src/bench/rate/ffrate.c): requests are due at a steady rate whatever the answers do, and each latency counts from',
      'when the request was due, so a pause shows in every request due during it (wrk, closed loop, records only the few it was waiting on).',
      '',
      markdownTable(FIXED_HEADER, fixedRows(result)),
      '',
    );
  }
  const model = scalingModel(result.summary);
  if (model) {
    parts.push(
      '### Scaling model: 8 and 16 cores',
      '',
      `CPU per request at 1 KiB × 32: faasflow's gateway ${fmtMicros(model.gatewayUs)}, its containers ${fmtMicros(model.containerUs)}; the one-process floor ${fmtMicros(model.floorUs)}.`,
      'On K cores faasflow carries min(G ÷ gateway time, (K − G) ÷ container time) at the best split, the cluster floor K ÷ its time. The',
      'model ignores what does not scale with cores (memory bandwidth, kernel locks) and puts the load generator on other cores.',
      '',
      markdownTable(SCALING_HEADER, scalingRows(model)),
      '',
    );
  }
  parts.push('### Targets', '', markdownTable(TARGET_HEADER, targetRows(result)), '', END);
  return parts.join('\n');
}

/**
 * Every benchmark writes its section of BENCHMARKS.md this way: `block` (which starts with `begin`
 * and ends with `end`) replaces what is between those markers, or is appended under `heading` when
 * the file has none. Everything outside the markers stays as it was.
 */
export function writeBlock(file: string, heading: string, begin: string, end: string, block: string): void {
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const b = old.indexOf(begin);
  const e = old.indexOf(end);
  fs.writeFileSync(file, b >= 0 && e > b ? old.slice(0, b) + block + old.slice(e + end.length) : `${old.trimEnd()}\n\n${heading}\n\n${block}\n`);
}

export function updateMarkdown(file: string, result: BenchResult): void {
  writeBlock(file, HEADING, BEGIN, END, renderBlock(result));
}
