// Rewrites the end-to-end results block of BENCHMARKS.md, between markers, leaving every other
// section (the shared-memory core's, anyone's prose) as it was.
import fs from 'node:fs';
import { HEADER, TARGET_HEADER, cellRows, runLine, targetRows } from './table.js';
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
    'Latency percentiles, req/s and CPU/req are medians across rounds; max is the largest seen. CPU/req is the on-CPU time of all the',
    "setup's processes (from /proc/<pid>/schedstat, load generator excluded) per answered request. Ratios are faasflow ÷ the reference.",
    '',
  ];
  for (const c of result.options.connections) {
    parts.push(`### ${c} connection${c > 1 ? 's' : ''}`, '', markdownTable(HEADER, cellRows(result, c)), '');
  }
  parts.push('### Targets', '', markdownTable(TARGET_HEADER, targetRows(result)), '', END);
  return parts.join('\n');
}

/** Replaces the block between the markers, or appends the section when the file has none. */
export function updateMarkdown(file: string, result: BenchResult): void {
  const block = renderBlock(result);
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const begin = old.indexOf(BEGIN);
  const end = old.indexOf(END);
  const next =
    begin >= 0 && end > begin ? old.slice(0, begin) + block + old.slice(end + END.length) : `${old.trimEnd()}\n\n${HEADING}\n\n${block}\n`;
  fs.writeFileSync(file, next);
}
