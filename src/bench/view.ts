// Console rendering of the harness's events and of the final result.
import { sizeLabel } from './options.js';
import { scalingModel } from './scaling.js';
import { FIXED_HEADER, HEADER, SCALING_HEADER, TARGET_HEADER, cellRows, fixedRows, fixedRuns, fmtMicros, fmtRate, runLine, scalingRows, targetRows } from './table.js';
import type { ProfileSummary } from './profile.js';
import type { BenchEvent, BenchResult } from './types.js';

type Log = (line: string) => void;

export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

export function progressView(log: Log): (e: BenchEvent) => void {
  let prefix = '';
  return (e) => {
    switch (e.type) {
      case 'setup-start':
        return log(`starting ${e.setup} …`);
      case 'setup-ready':
        return log(`  ${e.setup} ready at ${e.url} in ${Math.round(e.ms)} ms`);
      case 'setup-primed':
        return log(`  ${e.setup} primed: ${e.requests} requests in ${e.seconds.toFixed(1)} s`);
      case 'setup-stop':
        return log(`stopping ${e.setup}`);
      case 'cell-start':
        prefix = `[${String(e.index + 1).padStart(String(e.total).length)}/${e.total}] round ${e.round + 1}  ${sizeLabel(e.size).padStart(7)} × ${String(e.connections).padEnd(3)} ${e.setup.padEnd(8)}`;
        return;
      case 'cell-done': {
        const c = e.cell;
        const bad = c.non2xx || c.errors ? `  ${c.non2xx} non-2xx, ${c.errors} errors, ${c.timeouts} timeouts` : '';
        const perReq = c.latency.count ? fmtMicros(c.cpu.serverUs / c.latency.count) : '—';
        return log(`${prefix}  p50 ${fmtMicros(c.latency.p50).padStart(8)}  p99 ${fmtMicros(c.latency.p99).padStart(8)}  max ${fmtMicros(c.latency.max).padStart(8)}  ${fmtRate(c.rps).padStart(6)} req/s  CPU/req ${perReq.padStart(8)}${bad}`);
      }
      case 'rate-start':
        prefix = `fixed rate ${e.rate} req/s of ${sizeLabel(e.size)} × ${e.connections}  ${e.setup.padEnd(8)}`;
        return;
      case 'rate-done': {
        const c = e.cell;
        const bad = c.failures ? `  ${c.failures} failed` : '';
        return log(`${prefix}  p50 ${fmtMicros(c.p50).padStart(8)}  p99 ${fmtMicros(c.p99).padStart(8)}  p99.9 ${fmtMicros(c.p999).padStart(8)}  max ${fmtMicros(c.max).padStart(8)}  ${fmtRate(c.achieved).padStart(6)} req/s${bad}`);
      }
      case 'warning':
        return log(`warning: ${e.message}`);
    }
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export function printProfiles(profiles: ProfileSummary[], log: Log, n = 12): void {
  for (const p of profiles) {
    log('');
    log(`${p.role} (pid ${p.pid}): ${Math.round(p.busyMs)} ms busy of ${Math.round(p.totalMs)} ms sampled — ${p.file}`);
    log(textTable(['area', 'ms', 'of busy'], p.areas.map((a) => [a.name, a.ms.toFixed(1), pct(a.share)])));
    log(textTable(['self time', 'ms', 'of busy'], p.self.slice(0, n).map((a) => [a.name, a.ms.toFixed(1), pct(a.share)])));
  }
}

export function printResult(result: BenchResult, log: Log): void {
  log('');
  log(runLine(result));
  for (const c of result.options.connections) {
    log('');
    log(`${c} connection${c > 1 ? 's' : ''} (medians across rounds):`);
    log(textTable(HEADER, cellRows(result, c)));
  }
  const fixed = fixedRuns(result);
  if (fixed.length) {
    log('');
    log(`fixed rate, open loop (latency from when each request was due), over ${fixed[0].connections} connections: ${fixed.map((f) => `${f.rate} req/s of ${sizeLabel(f.size)}`).join(', ')}`);
    log(textTable(FIXED_HEADER, fixedRows(result)));
  }
  const model = scalingModel(result.summary);
  if (model) {
    log('');
    log(`scaling model from CPU per request (gateway ${fmtMicros(model.gatewayUs)}, containers ${fmtMicros(model.containerUs)}, floor ${fmtMicros(model.floorUs)}):`);
    log(textTable(SCALING_HEADER, scalingRows(model)));
  }
  log('');
  log(textTable(TARGET_HEADER, targetRows(result)));
  if (result.profiles) printProfiles(result.profiles, log);
}
