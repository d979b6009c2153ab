// The requests/s chart of `faasflow top`: each function's rate at each of the last 60 refreshes,
// one colour per function, the same colour as its name in the latency table. Drawn here in
// braille dots (2×4 to a character) into a plain box: a canvas widget that draws every dot as a
// character with its own colour escape, which blessed then parses back one escape at a time, cost
// `top` more than everything else it did in a refresh.
import type blessed from 'blessed';
import type { Snapshot } from '../snapshot.js';
import { setText } from './widgets.js';

const HISTORY = 60;
/** SGR foreground codes of the series: yellow, green, cyan, magenta, red, blue, white. */
const ANSI = [33, 32, 36, 35, 31, 34, 37];

export interface Series {
  y: readonly number[];
  /** SGR foreground code. */
  ansi: number;
}

/** A step of 1, 2 or 5 times a power of ten, at least `x`. */
function niceStep(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= x * 0.999)!;
}

/**
 * The chart as lines of text for a box of `width` × `height` cells (borders included): y labels
 * and axis on the left, the x axis under the plot with a label every 10 points ("-60s" … "-10s"),
 * each series a line through its points, later series over earlier ones. Every point is one
 * refresh; the last is the newest.
 */
export function renderChart(series: readonly Series[], width: number, height: number): string {
  const inner = width - 2;
  const rows = height - 2 - 2; // the x axis and its labels take two lines
  const top = Math.max(0, ...series.flatMap((s) => s.y.filter(Number.isFinite)));
  // Headroom over the highest point, and a scale of round numbers.
  const step = niceStep(top > 0 ? (top * 1.1) / 4 : 0.25);
  const max = step * Math.ceil((top > 0 ? top * 1.1 : 1) / step);
  const decimals = step >= 1 ? 0 : Math.ceil(-Math.log10(step) - 1e-9);
  const labelOf = (v: number) => v.toFixed(decimals);
  const gutter = labelOf(max).length + 1;
  const cols = inner - gutter - 1;
  if (rows < 1 || cols < 8) return '';
  const dotsX = cols * 2;
  const dotsY = rows * 4;
  const bits = new Uint8Array(cols * rows);
  const colour = new Uint8Array(cols * rows);
  const dot = (x: number, y: number, c: number) => {
    if (x < 0 || y < 0 || x >= dotsX || y >= dotsY) return;
    const i = (y >> 2) * cols + (x >> 1);
    // Braille dot numbering: columns of 1-2-3-7 and 4-5-6-8.
    bits[i] |= (y & 3) === 3 ? (x & 1 ? 0x80 : 0x40) : 1 << ((y & 3) + (x & 1) * 3);
    colour[i] = c;
  };
  const px = (i: number, n: number) => Math.round((i * (dotsX - 1)) / Math.max(1, n - 1));
  const py = (v: number) => dotsY - 1 - Math.round((Math.min(Math.max(v, 0), max) / max) * (dotsY - 1));
  series.forEach((s, k) => {
    const c = k + 1;
    for (let i = 1; i < s.y.length; i++) {
      // Bresenham from point i-1 to point i.
      let x0 = px(i - 1, s.y.length);
      let y0 = py(s.y[i - 1] || 0);
      const x1 = px(i, s.y.length);
      const y1 = py(s.y[i] || 0);
      const dx = Math.abs(x1 - x0);
      const dy = -Math.abs(y1 - y0);
      const sy = y0 < y1 ? 1 : -1;
      let err = dx + dy;
      for (;;) {
        dot(x0, y0, c);
        if (x0 === x1 && y0 === y1) break;
        const e2 = 2 * err;
        if (e2 >= dy) {
          err += dy;
          x0++;
        }
        if (e2 <= dx) {
          err += dx;
          y0 += sy;
        }
      }
    }
  });
  // A label on the row nearest each multiple of the step.
  const labels = new Map<number, string>();
  for (let v = 0; v <= max + step / 2; v += step) labels.set(Math.min(rows - 1, Math.floor(py(v) / 4)), labelOf(v));
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const label = labels.get(r);
    let line = `${(label ?? '').padStart(gutter - 1)} ${label === undefined ? '│' : '┤'}`;
    let open = 0;
    for (let x = 0; x < cols; x++) {
      const i = r * cols + x;
      const c = bits[i] ? colour[i] : 0;
      // One escape per run of a colour, not per character.
      if (c !== open && bits[i]) {
        line += `\x1b[${series[c - 1].ansi}m`;
        open = c;
      }
      line += bits[i] ? String.fromCharCode(0x2800 + bits[i]) : ' ';
    }
    lines.push(open ? `${line}\x1b[39m` : line);
  }
  lines.push(`${' '.repeat(gutter)}└${'─'.repeat(cols)}`);
  const xs = Array.from({ length: cols + gutter + 1 }, () => ' ');
  for (let i = 0; i < HISTORY; i += 10) {
    const text = `-${HISTORY - i}s`;
    const at = gutter + 1 + (px(i, HISTORY) >> 1);
    if (at + text.length <= xs.length) for (let j = 0; j < text.length; j++) xs[at + j] = text[j];
  }
  lines.push(xs.join('').trimEnd());
  return lines.join('\n');
}

export class RateChart {
  private readonly rps = new Map<number, { name: string; y: number[] }>();
  /** What the chart shows now: drawn again only when it changes. */
  private key = '';

  constructor(private readonly box: blessed.Widgets.BoxElement) {}

  /** Appends this refresh's rates to the history (once per snapshot, not per redraw). */
  record(snap: Snapshot): void {
    for (const f of snap.functions) {
      const s = this.rps.get(f.id) ?? { name: '', y: new Array<number>(HISTORY).fill(0) };
      s.name = f.name ? `${f.id} ${f.name}` : `fn ${f.id}`;
      s.y.push(f.rps ?? 0);
      s.y.shift();
      this.rps.set(f.id, s);
    }
    // Functions that vanished (instance restarted without them) keep scrolling out as zeros.
    const live = new Set(snap.functions.map((f) => f.id));
    for (const [id, s] of this.rps) {
      if (live.has(id)) continue;
      s.y.push(0);
      s.y.shift();
      if (s.y.every((v) => v === 0)) this.rps.delete(id);
    }
  }

  /** Draws the history if it is not what the chart shows; returns whether it drew. */
  draw(): boolean {
    // An idle function's series is the baseline, drawn over by the next: only the last idle one
    // is drawn (where it would have ended up on top).
    const all = [...this.rps.entries()].sort((a, b) => a[0] - b[0]);
    const lastIdle = all.findLast(([, s]) => s.y.every((v) => v === 0))?.[0];
    const drawn = all.filter(([id, s]) => id === lastIdle || s.y.some((v) => v !== 0));
    const series: Series[] = drawn.map(([id, s]) => ({ y: s.y, ansi: this.ansiOf(id) }));
    if (series.length === 0) series.push({ y: new Array<number>(HISTORY).fill(0), ansi: 37 });
    const width = this.box.width as number;
    const height = this.box.height as number;
    const key = `${width}x${height}:${series.map((s) => `${s.ansi}:${s.y.join(',')}`).join(';')}`;
    if (key === this.key) return false;
    this.key = key;
    setText(this.box, renderChart(series, width, height));
    return true;
  }

  /** A function's colour as an SGR code: its position among the charted functions, by id. */
  ansiOf(id: number): number {
    return ANSI[[...this.rps.keys()].sort((a, b) => a - b).indexOf(id) % ANSI.length];
  }
}
