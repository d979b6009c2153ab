// Number formats shared by `top` and `shm`: short enough for a table cell, exact enough to act on.
import { fmtBytes } from '../common/units.js';
import type { TrendVerdict } from './trend.js';

export { fmtBytes };

/** Microseconds as "85 µs", "1.24 ms", "3.1 s"; '-' when there is nothing to show. */
export function fmtUs(us: number | null | undefined, empty = '-'): string {
  if (us === null || us === undefined || !Number.isFinite(us) || us <= 0) return empty;
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
  return `${(us / 1e6).toFixed(1)} s`;
}

export function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

export function fmtRate(n: number | null): string {
  if (n === null) return '-';
  return n >= 100 ? fmtCount(n) : n.toFixed(1);
}

export function fmtPct(p: number | null): string {
  return p === null ? '-' : `${p.toFixed(p < 10 ? 1 : 0)}%`;
}

export function fmtDuration(s: number): string {
  const v = Math.max(0, Math.floor(s));
  if (v < 60) return `${v}s`;
  if (v < 3600) return `${Math.floor(v / 60)}m${String(v % 60).padStart(2, '0')}s`;
  if (v < 86400) return `${Math.floor(v / 3600)}h${String(Math.floor((v % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(v / 86400)}d${Math.floor((v % 86400) / 3600)}h`;
}

/** Bytes in at most 6 characters for narrow tables: "68.4M", "380K", "1.2G", "512B". */
export function fmtBytesShort(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 || v >= 100 ? Math.round(v) : v.toFixed(1)}${units[u]}`;
}

/**
 * "+1.2 MiB/min LEAK?", "flat", "-300 KiB/min", "…" while there are too few samples; `short`:
 * "+1.2M/m LEAK?" for narrow tables.
 */
export function fmtTrend(t: TrendVerdict, short = false): string {
  if (t.samples < 5) return '…';
  const perMin = t.slopeBytesPerS * 60;
  // A GC sawtooth has a slope too, but no straight line fits it: only a clear trend is shown.
  if (!t.leak && (Math.abs(perMin) < 256 * 1024 || t.r2 < 0.5)) return 'flat';
  const s = short ? `${perMin > 0 ? '+' : '-'}${fmtBytesShort(Math.abs(perMin))}/m` : `${perMin > 0 ? '+' : '-'}${fmtBytes(Math.abs(perMin))}/min`;
  return t.leak ? `${s} LEAK?` : s;
}

/** Fixed-width text table for terminals: columns padded to their widest cell. */
export function textTable(headers: string[], rows: string[][], rightAlign: number[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAlign.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
