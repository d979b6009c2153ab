// The `faasflow top` screen: a view of snapshots, no logic of its own. Every panel is redrawn
// from the latest snapshot; blessed sends only the cells that changed, which keeps top's own
// CPU use low at one refresh a second.
import blessed from 'blessed';
import contrib from 'blessed-contrib';
import type { LogLine } from '../logs.js';
import { fmtBytes, fmtCount, fmtDuration, fmtPct, fmtRate, fmtTrend, fmtUs } from '../format.js';
import type { ProcessSnapshot, Snapshot } from '../snapshot.js';

const HISTORY = 60;
const COLORS = ['yellow', 'green', 'cyan', 'magenta', 'red', 'blue', 'white'];
/** The same colours as SGR codes: table cells take raw ANSI (the table measures cells without it). */
const ANSI = [33, 32, 36, 35, 31, 34, 37];
const BORDER = 'cyan';
const FOCUS = 'yellow';

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
    this.events = grid.set(10, 0, 2, 6, blessed.list, { label: ' recent errors and events ', tags: true, keys: true, scrollable: true, style: { selected: { bg: 'blue' } } });
    this.logs = grid.set(10, 6, 2, 6, blessed.list, { label: ' log lines ', tags: false, keys: true, scrollable: true, style: { selected: { bg: 'blue' } } });
    this.waiting = blessed.box({ parent: this.screen, top: 'center', left: 'center', width: '60%', height: 5, border: { type: 'line' }, tags: true, hidden: true, style: { border: { fg: 'red' } } });
    this.focusables = [this.procs, this.latency, this.events, this.logs];
    this.screen.key(['q', 'C-c'], onQuit);
    this.screen.key(['tab'], () => this.moveFocus(1));
    this.screen.key(['S-tab'], () => this.moveFocus(-1));
    this.screen.on('resize', () => this.resized());
    this.moveFocus(0);
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

  /** Canvas widgets size their drawing surface on attach: redo that, then redraw the last data. */
  private resized(): void {
    this.chart.emit('attach');
    this.shm.emit('attach');
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
    const rows = snap.functions.map((f) => {
      const l = f.recentLatencyUs;
      const name = f.name ? `${f.id} ${f.name}` : `fn ${f.id}`;
      return [`\x1b[${ANSI[this.colorOf(f.id)]}m${name.slice(0, 12)}\x1b[39m`, fmtRate(f.rps), fmtUs(l?.total.p50), fmtUs(l?.total.p99), fmtCount(f.errors), fmtCount(f.requests), fmtUs(f.latencyUs.total.p99), fmtUs(l?.queue.p99), fmtUs(l?.handler.p99)];
    });
    setTable(this.latency, ['function', 'req/s', 'p50', 'p99', 'errors', 'total', 'p99 all', 'queue p99', 'handler p99'], [12, 6, 8, 8, 6, 7, 8, 9, 11], rows);
  }

  private drawPool(snap: Snapshot): void {
    const width = Math.max(10, (this.pool.width as number) - 4);
    const barWidth = Math.max(4, width - 42);
    const lines = snap.pool.map((c) => {
      const filled = Math.round((c.usedPercent / 100) * barWidth);
      const color = c.usedPercent >= 90 ? 'red' : c.usedPercent >= 70 ? 'yellow' : 'green';
      const bar = `{${color}-fg}${'█'.repeat(filled)}{/${color}-fg}${'░'.repeat(barWidth - filled)}`;
      return `${fmtBytes(c.size).padStart(9)} ${bar} ${`${c.inUse}/${c.count}`.padStart(11)} ${fmtPct(c.usedPercent).padStart(5)} hw ${String(c.highWater).padStart(5)}`;
    });
    const touched = snap.pool.reduce((a, c) => a + c.touched, 0);
    if (snap.pool.length) lines.push(`{gray-fg}arenas resident: ${fmtBytes(touched)}{/gray-fg}`);
    setText(this.pool, lines.join('\n') || '-');
  }

  private drawShm(snap: Snapshot): void {
    const s = snap.shm;
    this.shm.setLabel(s.warn ? ` /dev/shm WARNING > ${s.warnPercent}% ` : ' /dev/shm used ');
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
    const lines = [
      `{bold}${g.name}{/bold}  v${g.layoutVersion}  up ${fmtDuration(g.uptimeS)}`,
      `size ${fmtBytes(g.size)}, touched ${fmtBytes(g.touched)}`,
      `creator pid ${g.creatorPid} ${g.creatorAlive ? '{green-fg}alive{/green-fg}' : '{red-fg}dead{/red-fg}'}`,
      `mapped by ${g.holders.length} process(es)${readers.length ? ` (${readers.length} faasflow reader${readers.length > 1 ? 's' : ''})` : ''}`,
      `/dev/shm ${fmtBytes(snap.shm.used)} of ${fmtBytes(snap.shm.total)} (${fmtPct(snap.shm.usedPercent)})${snap.shm.warn ? ` {red-fg}> ${snap.shm.warnPercent}%{/red-fg}` : ''}`,
      strangers.length ? `{yellow-fg}not registered: ${strangers.map((h) => h.pid).join(', ')}{/yellow-fg}` : '',
      `{gray-fg}${snap.takenAt.slice(11, 19)} UTC  q quit, tab focus{/gray-fg}`,
    ];
    setText(this.segment, lines.filter(Boolean).join('\n'));
  }

  private drawProcesses(snap: Snapshot): void {
    const row = (p: ProcessSnapshot) => {
      const m = p.memory;
      // The column is 14 wide: shorten the name, never the id or the replica, and keep a gap.
      const room = 13 - `${p.functionId} /${p.replica}`.length;
      const name = p.function && p.function.length > room ? `${p.function.slice(0, Math.max(room - 1, 0))}…` : (p.function ?? '');
      const fn = p.role === 'container' ? `${p.functionId}${name ? ` ${name}` : ''}/${p.replica}` : '-';
      const state = p.alive ? p.state : 'DEAD';
      const b = (n: number | undefined) => (n === undefined ? '-' : fmtBytes(n));
      return [p.role, fn, String(p.pid), state, String(p.restarts), fmtPct(p.cpuPercent), fmtPct(p.polling.percent), b(m?.rss), b(m?.privateBytes), b(m?.shmBytes), fmtTrend(p.trend), b(m?.sharedBytes), b(m?.pss), fmtDuration(p.uptimeS)];
    };
    setTable(this.procs, ['role', 'function', 'pid', 'state', 'rst', 'cpu', 'poll', 'rss', 'private', 'shm', 'private trend', 'shared', 'pss', 'uptime'], [10, 14, 7, 8, 3, 6, 5, 9, 9, 9, 18, 9, 9, 7], snap.processes.map(row));
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

/** Parsing tagged content is most of blessed's cost: skip it when nothing changed. */
/** Columns are dropped from the right until the rest fit the table's width. */
function setTable(t: contrib.TableWidget, headers: string[], widths: number[], rows: string[][]): void {
  const room = (t.width as number) - 4;
  let n = 0;
  for (let used = 0; n < widths.length && used + widths[n] <= room; n++) used += widths[n] + 1;
  n = Math.max(1, n);
  t.options.columnWidth = widths.slice(0, n);
  t.setData({ headers: headers.slice(0, n), data: rows.map((r) => r.slice(0, n)) });
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
