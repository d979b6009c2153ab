// The `faasflow top` screen: a view of snapshots, no logic of its own. Every panel is redrawn
// from the latest snapshot; blessed sends only the cells that changed, which keeps top's own
// CPU use low at one refresh a second.
import blessed from 'blessed';
import contrib from 'blessed-contrib';
import type { LogLine } from '../logs.js';
import { fmtBytes, fmtBytesShort, fmtCount, fmtDuration, fmtPct, fmtRate, fmtTrend, fmtUs } from '../format.js';
import type { ProcessSnapshot, Snapshot } from '../snapshot.js';

const HISTORY = 60;
const COLORS = ['yellow', 'green', 'cyan', 'magenta', 'red', 'blue', 'white'];
/** The same colours as SGR codes: table cells take raw ANSI (the table measures cells without it). */
const ANSI = [33, 32, 36, 35, 31, 34, 37];
const BORDER = 'cyan';
const FOCUS = 'yellow';
/** Panel titles, longest first: each panel shows the longest that fits its top border. */
const TITLES = {
  chart: [' requests/s per function, last 60 s (colours as in the function table) ', ' requests/s per function, last 60 s ', ' requests/s, last 60 s ', ' req/s '],
  latency: [' functions: latency (last interval) ', ' latency (last interval) ', ' latency '],
  pool: [' packet pool per size class ', ' packet pool ', ' pool '],
  segment: [' segment '],
  events: [' recent errors and events ', ' errors and events ', ' events '],
  logs: [' log lines ', ' logs '],
};

export class Dashboard {
  readonly screen: blessed.Widgets.Screen;
  private readonly chart: contrib.LineChart;
  private readonly latency: contrib.TableWidget;
  private readonly pool: blessed.Widgets.BoxElement;
  private readonly shm: contrib.GaugeWidget;
  private readonly segment: blessed.Widgets.BoxElement;
  private readonly procs: contrib.TableWidget;
  private readonly events: blessed.Widgets.ListElement;
  private readonly logs: blessed.Widgets.ListElement;
  private readonly waiting: blessed.Widgets.BoxElement;
  /** Panels `tab` cycles through. */
  private readonly focusables: blessed.Widgets.BoxElement[];
  private focusAt = 0;
  private readonly rps = new Map<number, { name: string; y: number[] }>();
  private last: { snap: Snapshot; logs: LogLine[] } | null = null;
  private readonly renderNow: () => void;
  private batching = false;
  /** The geometry last applied (see layout()). */
  private placed = '';

  constructor(
    private readonly instance: string,
    private readonly logHint: string,
    onQuit: () => void,
  ) {
    this.screen = blessed.screen({ smartCSR: true, title: `faasflow top: ${instance}`, autoPadding: true, fullUnicode: true, forceUnicode: true });
    // Scrolling a labelled list makes blessed redraw the whole screen on the spot; during an update
    // that would be one full redraw per panel, so redraws wait for the end of the update.
    this.renderNow = this.screen.render.bind(this.screen);
    this.screen.render = () => {
      if (!this.batching) this.renderNow();
    };
    const grid = new contrib.grid({ rows: 12, cols: 12, screen: this.screen, color: BORDER });
    this.chart = grid.set(0, 0, 4, 7, contrib.line, { label: ' requests/s per function, last 60 s (colours as in the function table) ', showLegend: false, minY: 0, xPadding: 4, wholeNumbersOnly: false, style: { text: 'white', baseline: 'white' } });
    this.latency = grid.set(0, 7, 4, 5, contrib.table, { label: ' functions: latency (last interval) ', keys: true, interactive: true, columnSpacing: 2, columnWidth: [12], fg: 'white' });
    this.pool = grid.set(4, 0, 3, 5, blessed.box, { label: ' packet pool per size class ', tags: true });
    this.shm = grid.set(4, 5, 3, 3, contrib.gauge, { label: ' /dev/shm ', stroke: 'green', fill: 'white' });
    this.segment = grid.set(4, 8, 3, 4, blessed.box, { label: ' segment ', tags: true });
    this.procs = grid.set(7, 0, 3, 12, contrib.table, { label: ' processes ', keys: true, interactive: true, columnSpacing: 2, columnWidth: [10], fg: 'white' });
    tightTable(this.latency);
    tightTable(this.procs);
    this.events = grid.set(10, 0, 2, 6, blessed.list, { label: ' recent errors and events ', tags: true, keys: true, scrollable: true, style: { selected: { bg: 'blue' } } });
    this.logs = grid.set(10, 6, 2, 6, blessed.list, { label: ' log lines ', tags: false, keys: true, scrollable: true, style: { selected: { bg: 'blue' } } });
    this.waiting = blessed.box({ parent: this.screen, top: 'center', left: 'center', width: '60%', height: 5, border: { type: 'line' }, tags: true, hidden: true, style: { border: { fg: 'red' } } });
    this.focusables = [this.procs, this.latency, this.events, this.logs];
    this.screen.key(['q', 'C-c'], onQuit);
    this.screen.key(['tab'], () => this.moveFocus(1));
    this.screen.key(['S-tab'], () => this.moveFocus(-1));
    this.screen.on('resize', () => this.resized());
    this.layout(4);
    this.moveFocus(0);
  }

  /**
   * Places the panels for the terminal's size. The process table gets room for every process
   * first (up to what leaves the other panels a minimum), the rest is shared as on a 12-row grid:
   * on a 160×48 terminal the proportions are those of the grid, on 80×24 every panel stays visible
   * and the process table shows five processes. Titles shrink to fit their panel's width.
   */
  private layout(processes: number): void {
    const W = Math.max(40, this.screen.width as number);
    const H = Math.max(20, this.screen.height as number);
    const bottom = Math.max(4, Math.round(H / 6));
    const mid = Math.max(6, Math.round(H / 4));
    const procs = Math.min(Math.max(processes + 3, Math.round(H / 4)), Math.max(5, H - bottom - mid - 6));
    const top = H - bottom - mid - procs;
    // Narrow: the latency table needs its six columns more than the chart needs width.
    const chartW = Math.round(W * (W < 120 ? 0.45 : 7 / 12));
    const poolW = Math.round((W * 5) / 12);
    const shmW = Math.round((W * 3) / 12);
    const key = [W, H, top, procs].join('x');
    if (key === this.placed) return;
    this.placed = key;
    const at = (el: blessed.Widgets.BoxElement, left: number, y: number, width: number, height: number) => Object.assign(el, { left, top: y, width, height });
    at(this.chart, 0, 0, chartW, top);
    at(this.latency, chartW, 0, W - chartW, top);
    at(this.pool, 0, top, poolW, mid);
    at(this.shm, poolW, top, shmW, mid);
    at(this.segment, poolW + shmW, top, W - poolW - shmW, mid);
    at(this.procs, 0, top + mid, W, procs);
    const half = Math.round(W / 2);
    at(this.events, 0, top + mid + procs, half, H - top - mid - procs);
    at(this.logs, half, top + mid + procs, W - half, H - top - mid - procs);
    const title = (el: blessed.Widgets.BoxElement, options: string[]) => el.setLabel(options.find((o) => o.length <= (el.width as number) - 4) ?? options[options.length - 1]);
    title(this.chart, TITLES.chart);
    title(this.latency, TITLES.latency);
    title(this.pool, TITLES.pool);
    title(this.segment, TITLES.segment);
    title(this.events, TITLES.events);
    title(this.logs, TITLES.logs);
    // Canvas widgets size their drawing surface on attach: redo that for the new size.
    this.chart.emit('attach');
    this.shm.emit('attach');
  }

  private moveFocus(by: number): void {
    this.focusAt = (this.focusAt + by + this.focusables.length) % this.focusables.length;
    const focused = this.focusables[this.focusAt];
    for (const box of this.focusables) box.style.border = { ...(box.style.border as object), fg: box === focused ? FOCUS : BORDER };
    // A table highlights its selected row only while focused, so unfocused rows keep their colours.
    for (const table of [this.procs, this.latency]) (table.rows as unknown as { interactive: boolean }).interactive = table === focused;
    focused.focus();
    this.screen.render();
  }

  private resized(): void {
    this.placed = '';
    this.redraw();
  }

  update(snap: Snapshot, logs: LogLine[]): void {
    this.record(snap);
    this.last = { snap, logs };
    this.redraw();
  }

  private redraw(): void {
    if (!this.last) return;
    this.batching = true;
    try {
      this.draw(this.last.snap, this.last.logs);
    } finally {
      this.batching = false;
    }
    this.renderNow();
  }

  private draw(snap: Snapshot, logs: LogLine[]): void {
    this.layout(snap.processes.length);
    this.drawChart();
    this.drawLatency(snap);
    this.drawPool(snap);
    this.drawShm(snap);
    this.drawSegment(snap);
    this.drawProcesses(snap);
    this.drawEvents(snap);
    this.drawLogs(logs);
    if (snap.status === 'waiting') {
      this.waiting.setContent(`{center}{bold}waiting for instance ${blessed.escape(this.instance)}{/bold}\n${blessed.escape(snap.reason ?? '')}{/center}`);
      this.waiting.show();
      this.waiting.setFront();
    } else {
      this.waiting.hide();
    }
  }

  /** Appends this refresh's rates to the chart's history (once per snapshot, not per redraw). */
  private record(snap: Snapshot): void {
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

  private drawChart(): void {
    const x = Array.from({ length: HISTORY }, (_, i) => (i % 10 === 0 ? `-${HISTORY - i}s` : ' '));
    const series = [...this.rps.entries()].sort((a, b) => a[0] - b[0]).map(([id, s]) => ({ title: s.name, x, y: [...s.y], style: { line: COLORS[this.colorOf(id)] } }));
    if (series.length === 0) series.push({ title: 'no functions', x, y: new Array<number>(HISTORY).fill(0), style: { line: 'white' } });
    const max = Math.max(...series.flatMap((s) => s.y));
    // The chart divides by its maximum: an all-zero chart needs one given.
    this.chart.options.maxY = max > 0 ? undefined : 1;
    this.chart.setData(series);
  }

  /** A function's colour: its position among the charted functions, by id. */
  private colorOf(id: number): number {
    return [...this.rps.keys()].sort((a, b) => a - b).indexOf(id) % COLORS.length;
  }

  private drawLatency(snap: Snapshot): void {
    const fns = snap.functions;
    const col = (header: string, cell: (f: Snapshot['functions'][number]) => string, required = true): Column => ({ header, cells: fns.map(cell), required });
    const cols: Column[] = [
      { header: 'function', short: 'fn', cells: fns.map((f) => `\x1b[${ANSI[this.colorOf(f.id)]}m${(f.name ? `${f.id} ${f.name}` : `fn ${f.id}`).slice(0, 14)}\x1b[39m`), required: true, shrink: 6 },
      col('req/s', (f) => fmtRate(f.rps)),
      col('p50', (f) => fmtUs(f.recentLatencyUs?.total.p50)),
      col('p99', (f) => fmtUs(f.recentLatencyUs?.total.p99)),
      { ...col('errors', (f) => fmtCount(f.errors)), short: 'err' },
      col('total', (f) => fmtCount(f.requests)),
      col('p99 all', (f) => fmtUs(f.latencyUs.total.p99), false),
      col('queue p99', (f) => fmtUs(f.recentLatencyUs?.queue.p99), false),
      col('handler p99', (f) => fmtUs(f.recentLatencyUs?.handler.p99), false),
      col('reply p99', (f) => fmtUs(f.recentLatencyUs?.reply.p99), false),
    ];
    const hidden = setTable(this.latency, cols, fns.length);
    this.latency.setLabel(moreLabel(this.latency, TITLES.latency, hidden));
  }

  /** One line per class: size, bar, in use/count, %, high water; the bar, then hw, give way first. */
  private drawPool(snap: Snapshot): void {
    const inner = (this.pool.width as number) - 3;
    const size = snap.pool.map((c) => fmtBytes(c.size));
    const use = snap.pool.map((c) => `${c.inUse}/${c.count}`);
    const hw = snap.pool.map((c) => String(c.highWater));
    const w = (a: string[]) => Math.max(0, ...a.map((x) => x.length));
    const base = w(size) + 1 + w(use) + 1 + 5;
    const withHw = base + 4 + w(hw);
    const showHw = withHw + 5 <= inner || base + 5 > inner;
    const barWidth = Math.min(40, inner - (showHw ? withHw : base) - 1);
    const lines = snap.pool.map((c, i) => {
      const filled = Math.round((c.usedPercent / 100) * Math.max(0, barWidth));
      const color = c.usedPercent >= 90 ? 'red' : c.usedPercent >= 70 ? 'yellow' : 'green';
      const bar = barWidth >= 4 ? ` {${color}-fg}${'█'.repeat(filled)}{/${color}-fg}${'░'.repeat(barWidth - filled)}` : '';
      return `${size[i].padStart(w(size))}${bar} ${use[i].padStart(w(use))} ${fmtPct(c.usedPercent).padStart(5)}${showHw ? ` hw ${hw[i].padStart(w(hw))}` : ''}`;
    });
    const touched = snap.pool.reduce((a, c) => a + c.touched, 0);
    if (snap.pool.length) lines.push(`{gray-fg}arenas resident: ${fmtBytes(touched)}{/gray-fg}`);
    setText(this.pool, lines.join('\n') || '-');
  }

  private drawShm(snap: Snapshot): void {
    const s = snap.shm;
    const labels = s.warn ? [` /dev/shm WARNING > ${s.warnPercent}% `, ` shm WARNING > ${s.warnPercent}% `, ' shm WARNING ', ' WARN '] : [' /dev/shm used ', ' /dev/shm ', ' shm '];
    this.shm.setLabel(labels.find((l) => l.length <= (this.shm.width as number) - 2) ?? labels[labels.length - 1]);
    this.shm.options.stroke = s.warn ? 'red' : 'green';
    this.shm.style.border = { ...(this.shm.style.border as object), fg: s.warn ? 'red' : BORDER };
    // The gauge reads values ≤ 1 as fractions: always hand it one.
    this.shm.setPercent(Math.min(1, s.usedPercent / 100));
  }

  private drawSegment(snap: Snapshot): void {
    const g = snap.segment;
    if (!g) {
      setText(this.segment, `{red-fg}${blessed.escape(snap.reason ?? 'no segment')}{/red-fg}`);
      return;
    }
    // Other `faasflow top` / `shm` runs map the segment too; they are readers, not strangers.
    const reader = (cmd: string) => /(faasflow|bin\/run\.js)\s+(top|shm)\b/.test(cmd);
    const strangers = g.holders.filter((h) => !h.registered && !reader(h.command));
    const readers = g.holders.filter((h) => !h.registered && reader(h.command));
    const alive = g.creatorAlive ? '{green-fg}alive{/green-fg}' : '{red-fg}dead{/red-fg}';
    const warn = snap.shm.warn ? ` {red-fg}> ${snap.shm.warnPercent}%{/red-fg}` : '';
    // Each line in its long form when it fits the panel, else a short one: a wrapped line would
    // push the ones below out of a small panel. Most important first: small panels cut the end.
    const lines: string[][] = [
      [`{bold}${g.name}{/bold}  v${g.layoutVersion}  up ${fmtDuration(g.uptimeS)}`, `{bold}${g.name}{/bold} v${g.layoutVersion}`],
      [`creator pid ${g.creatorPid} ${alive}`, `creator ${g.creatorPid} ${alive}`],
      strangers.length ? [`{yellow-fg}not registered: ${strangers.map((h) => h.pid).join(', ')}{/yellow-fg}`] : [],
      [`mapped by ${g.holders.length} process(es)${readers.length ? ` (${readers.length} faasflow reader${readers.length > 1 ? 's' : ''})` : ''}`, `mapped by ${g.holders.length}`],
      [`domains: ${snap.domains.map((d) => `${d.name} ${d.enforcement ?? '-'}`).join(', ') || 'none'}`, `${snap.domains.length} domain(s)`],
      [`size ${fmtBytes(g.size)}, touched ${fmtBytes(g.touched)}`, `${fmtBytesShort(g.size)}, ${fmtBytesShort(g.touched)} touched`],
      [`/dev/shm ${fmtBytes(snap.shm.used)} of ${fmtBytes(snap.shm.total)} (${fmtPct(snap.shm.usedPercent)})${warn}`, `/dev/shm ${fmtPct(snap.shm.usedPercent)} of ${fmtBytesShort(snap.shm.total)}${warn}`],
      [`{gray-fg}${snap.takenAt.slice(11, 19)} UTC  q quit, tab focus{/gray-fg}`, `{gray-fg}q quit, tab focus{/gray-fg}`],
    ];
    const inner = (this.segment.width as number) - 3;
    const fit = (forms: string[]) => {
      const f = forms.find((x) => visibleLength(x) <= inner) ?? forms[forms.length - 1];
      // Not even the short form fits (a long instance name): cut it, colours and all.
      return visibleLength(f) <= inner ? f : clip(f.replace(/\{\/?[a-z-]*\}/g, ''), inner);
    };
    setText(this.segment, lines.filter((l) => l.length).map(fit).join('\n'));
  }

  /**
   * The issue's columns (role, function, pid, state, restarts, CPU, RSS, private, shm, private
   * trend) always; poll, uptime, shared and PSS as the width allows, in that order. Narrow
   * terminals get short byte and trend formats before any required column is given up.
   */
  private drawProcesses(snap: Snapshot): void {
    const ps = snap.processes;
    const fn = (p: ProcessSnapshot) => {
      if (p.role !== 'container') return '-';
      // Shorten the name, never the id or the replica.
      const room = 13 - `${p.functionId} /${p.replica}`.length;
      const name = p.function && p.function.length > room ? `${p.function.slice(0, Math.max(room - 1, 0))}…` : (p.function ?? '');
      return `${p.functionId}${name ? ` ${name}` : ''}/${p.replica}`;
    };
    const bytes = (header: string, get: (p: ProcessSnapshot) => number | undefined, required: boolean): Column => ({
      header,
      cells: ps.map((p) => (get(p) === undefined ? '-' : fmtBytes(get(p)!))),
      compact: ps.map((p) => (get(p) === undefined ? '-' : fmtBytesShort(get(p)!))),
      required,
    });
    const cols: Column[] = [
      { header: 'role', cells: ps.map((p) => p.role), required: true },
      { header: 'function', cells: ps.map(fn), required: true, shrink: 5 },
      { header: 'pid', cells: ps.map((p) => String(p.pid)), required: true },
      { header: 'state', cells: ps.map((p) => (p.alive ? p.state : 'DEAD')), required: true },
      { header: 'rst', cells: ps.map((p) => String(p.restarts)), required: true },
      { header: 'cpu', cells: ps.map((p) => fmtPct(p.cpuPercent)), required: true },
      { header: 'poll', cells: ps.map((p) => fmtPct(p.polling.percent)), required: false, priority: 1 },
      bytes('rss', (p) => p.memory?.rss, true),
      bytes('private', (p) => p.memory?.privateBytes, true),
      bytes('shm', (p) => p.memory?.shmBytes, true),
      { header: 'private trend', short: 'trend', cells: ps.map((p) => fmtTrend(p.trend)), compact: ps.map((p) => fmtTrend(p.trend, true)), required: true, shrink: 5 },
      { ...bytes('shared', (p) => p.memory?.sharedBytes, false), priority: 3 },
      { ...bytes('pss', (p) => p.memory?.pss, false), priority: 4 },
      { header: 'uptime', cells: ps.map((p) => fmtDuration(p.uptimeS)), required: false, priority: 2 },
    ];
    const hidden = setTable(this.procs, cols, ps.length);
    this.procs.setLabel(moreLabel(this.procs, [' processes '], hidden));
  }

  private drawEvents(snap: Snapshot): void {
    const color = { error: 'red', warn: 'yellow', info: 'gray' } as const;
    const items = snap.events.map((e) => `{${color[e.level]}-fg}${e.at.slice(11, 19)} ${blessed.escape(e.text)}{/${color[e.level]}-fg}`);
    this.setList(this.events, items.length ? items : ['{gray-fg}no errors{/gray-fg}']);
  }

  private drawLogs(logs: LogLine[]): void {
    this.setList(this.logs, logs.length ? logs.map(logText) : [this.logHint]);
  }

  /** Replaces the items and keeps the newest in view unless the user scrolled up in it. */
  private setList(list: blessed.Widgets.ListElement, items: string[]): void {
    const l = list as blessed.Widgets.ListElement & { selected: number; items: unknown[] };
    if (l.items.length === items.length && items.every((it, i) => list.getItem(i)?.getContent() === it)) return;
    const following = l.selected >= l.items.length - 1;
    list.setItems(items as unknown as blessed.Widgets.BlessedElement[]);
    if (following) list.select(items.length - 1);
  }

  destroy(): void {
    this.screen.destroy();
  }
}

/** A table column: its cells, and a compact form of them for narrow terminals. */
interface Column {
  header: string;
  /** Header for narrow terminals. */
  short?: string;
  cells: string[];
  compact?: string[];
  /** Shown whenever it can be; optional columns follow by `priority` (low first) as room allows. */
  required: boolean;
  priority?: number;
  /** May be cut down to this width (its cells truncated) so that every required column fits. */
  shrink?: number;
}

/** An SGR escape (colour), as the table cells carry them; built from a string to keep lint's control-character rule. */
const SGR = '\x1b\\[[0-9;]*m';
const SGR_ALL = new RegExp(SGR, 'g');
const WRAPPED = new RegExp(`^(${SGR})?(.*?)(${SGR})?$`, 's');

/** Length on screen: without SGR escapes and blessed tags. */
function visibleLength(s: string): number {
  return s.replace(SGR_ALL, '').replace(/\{\/?[a-z-]*\}/g, '').length;
}

/** `cell` cut to `width` on screen with an ellipsis, keeping a colour that wraps it whole. */
function clip(cell: string, width: number): string {
  if (visibleLength(cell) <= width) return cell;
  const m = WRAPPED.exec(cell)!;
  const text = m[2].replace(SGR_ALL, '');
  return `${m[1] ?? ''}${text.slice(0, Math.max(0, width - 1))}…${m[3] ?? ''}`;
}

/**
 * Fits `cols` to the table's width: each column as wide as its widest cell; every required column
 * first, in long form if all of them fit, else compact; then optional ones by priority while they
 * fit. Shown in their given order. Returns how many rows do not fit the table's height.
 */
function setTable(t: contrib.TableWidget, cols: Column[], rows: number): number {
  // Every column is followed by one space, the last one too (blessed-contrib pads it).
  const room = (t.width as number) - 2;
  const form = (c: Column, compact: boolean) => {
    const header = compact ? (c.short ?? c.header) : c.header;
    const cells = compact ? (c.compact ?? c.cells) : c.cells;
    return { header, cells, width: Math.max(header.length, ...cells.map(visibleLength)) };
  };
  const required = cols.filter((c) => c.required);
  const sum = (ws: number[]) => ws.reduce((a, w) => a + w + 1, 0);
  const compact = sum(required.map((c) => form(c, false).width)) > room;
  const shape = cols.map((c) => form(c, compact));
  const width = shape.map((f) => f.width);
  // Still too wide: cut the shrinkable columns, widest first, down to their minimum.
  for (let over = sum(required.map((c) => width[cols.indexOf(c)])) - room; over > 0; ) {
    const i = cols.map((c, j) => (c.required && c.shrink !== undefined && width[j] > c.shrink ? j : -1)).filter((j) => j >= 0).sort((a, b) => width[b] - width[a])[0];
    if (i === undefined) break;
    const cut = Math.min(over, width[i] - cols[i].shrink!);
    width[i] -= cut;
    over -= cut;
  }
  const shown = new Set(required);
  let used = sum(required.map((c) => width[cols.indexOf(c)]));
  for (const c of cols.filter((x) => !x.required).sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))) {
    const w = width[cols.indexOf(c)];
    if (used + w + 1 > room) continue;
    shown.add(c);
    used += w + 1;
  }
  const idx = cols.map((c, i) => (shown.has(c) ? i : -1)).filter((i) => i >= 0);
  t.options.columnWidth = idx.map((i) => width[i]);
  t.setData({ headers: idx.map((i) => clip(shape[i].header, width[i])), data: Array.from({ length: rows }, (_, r) => idx.map((i) => clip(shape[i].cells[r], width[i]))) });
  return Math.max(0, rows - ((t.height as number) - 3));
}

/** The panel's title, with "+N more (↑↓ scroll)" when rows are out of view. */
function moreLabel(t: blessed.Widgets.BoxElement, titles: string[], hidden: number): string {
  const room = (t.width as number) - 4;
  const base = titles.find((x) => x.length <= room) ?? titles[titles.length - 1];
  if (hidden <= 0) return base;
  const more = [`${base}+${hidden} more (↑↓ scroll) `, ` +${hidden} more (↑↓ scroll) `, ` +${hidden} more `];
  return more.find((x) => x.length <= room) ?? more[more.length - 1];
}

/**
 * blessed-contrib's table leaves an empty line under the header and indents rows by one column
 * (so they sit off the header by one); rows directly under the header, aligned with it, show
 * one more process on a small terminal.
 */
function tightTable(t: contrib.TableWidget): void {
  const rows = t.rows;
  Object.assign(rows, { top: 1, left: 0 });
  const boxRender = (blessed as unknown as { Box: { prototype: { render(this: unknown): unknown } } }).Box.prototype.render;
  t.render = function render(this: contrib.TableWidget) {
    if (this.screen.focused === rows) rows.focus();
    rows.width = (this.width as number) - 2;
    rows.height = (this.height as number) - 3;
    return boxRender.call(this);
  } as typeof t.render;
}

const shown = new WeakMap<blessed.Widgets.BoxElement, string>();
function setText(box: blessed.Widgets.BoxElement, text: string): void {
  if (shown.get(box) === text) return;
  shown.set(box, text);
  box.setContent(text);
}

/** "12:01:02 gateway[123] text" for supervisor-written lines (they name their writer), else "[file] text". */
export function logText(l: LogLine): string {
  return l.stamped ? `${new Date(l.at).toISOString().slice(11, 19)} ${l.text}` : `[${l.source}] ${l.text}`;
}
