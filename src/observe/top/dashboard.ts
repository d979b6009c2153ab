// The `faasflow top` screen: a view of snapshots, no logic of its own. Every panel is set from the
// latest snapshot where what it shows changed, only those panels are drawn again (redraw.ts), and
// blessed sends the terminal only the cells that changed: what keeps top's own CPU use low at one
// refresh a second.
import blessed from 'blessed';
import contrib from 'blessed-contrib';
import type { LogLine } from '../logs.js';
import type { Snapshot } from '../snapshot.js';
import { RateChart } from './chart.js';
import { latencyColumns, latencyRows, poolLines, processColumns, segmentLines } from './panels.js';
import { PanelRedraw } from './redraw.js';
import { moreLabel, rowView, setLabel, setTable, setText, tightTable } from './widgets.js';

const BORDER = 'cyan';
const FOCUS = 'yellow';
/** Panel titles, longest first: each panel shows the longest that fits its top border. */
const TITLES = {
  chart: [' requests/s per function, last 60 s (colours as in the function table) ', ' requests/s per function, last 60 s ', ' requests/s, last 60 s ', ' req/s '],
  latency: [' functions: latency (last interval) ', ' latency (last interval) ', ' latency '],
  pool: [' packet memory per domain ', ' packet memory ', ' memory '],
  segment: [' segment '],
  events: [' recent errors and events ', ' errors and events ', ' events '],
  logs: [' log lines ', ' logs '],
};

export class Dashboard {
  readonly screen: blessed.Widgets.Screen;
  private readonly chart: blessed.Widgets.BoxElement;
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
  private readonly rates: RateChart;
  private readonly panels: PanelRedraw;
  private last: { snap: Snapshot; logs: LogLine[] } | null = null;
  private readonly renderNow: () => void;
  private batching = false;
  /** The geometry last applied (see layout()). */
  private placed = '';
  /** What the gauge shows now: redrawn only when it changes. */
  private shmKey = '';

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
    this.chart = grid.set(0, 0, 4, 7, blessed.box, { label: ' requests/s per function, last 60 s (colours as in the function table) ', tags: false, wrap: false });
    this.latency = grid.set(0, 7, 4, 5, contrib.table, { label: ' functions: latency (last interval) ', keys: true, interactive: true, columnSpacing: 2, columnWidth: [12], fg: 'white' });
    this.pool = grid.set(4, 0, 3, 5, blessed.box, { label: ' packet memory per domain ', tags: true });
    this.shm = grid.set(4, 5, 3, 3, contrib.gauge, { label: ' /dev/shm ', stroke: 'green', fill: 'white' });
    this.segment = grid.set(4, 8, 3, 4, blessed.box, { label: ' segment ', tags: true });
    this.procs = grid.set(7, 0, 3, 12, contrib.table, { label: ' processes ', keys: true, interactive: true, columnSpacing: 2, columnWidth: [10], fg: 'white' });
    for (const table of [this.latency, this.procs]) {
      tightTable(table);
      // After the list's own key handler has moved its view.
      table.rows.on('keypress', () => {
        this.labelRows(table);
        this.screen.render();
      });
    }
    this.events = grid.set(10, 0, 2, 6, blessed.list, { label: ' recent errors and events ', tags: true, keys: true, scrollable: true, style: { selected: { bg: 'blue' } } });
    this.logs = grid.set(10, 6, 2, 6, blessed.list, { label: ' log lines ', tags: false, keys: true, scrollable: true, style: { selected: { bg: 'blue' } } });
    this.waiting = blessed.box({ parent: this.screen, top: 'center', left: 'center', width: '60%', height: 5, border: { type: 'line' }, tags: true, hidden: true, style: { border: { fg: 'red' } } });
    this.rates = new RateChart(this.chart);
    this.panels = new PanelRedraw([this.chart, this.latency, this.pool, this.shm, this.segment, this.procs, this.events, this.logs]);
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
    this.panels.everything();
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
    const title = (el: blessed.Widgets.BoxElement, options: string[]) => setLabel(el, options.find((o) => o.length <= (el.width as number) - 4) ?? options[options.length - 1]);
    title(this.chart, TITLES.chart);
    title(this.latency, TITLES.latency);
    title(this.pool, TITLES.pool);
    title(this.segment, TITLES.segment);
    title(this.events, TITLES.events);
    title(this.logs, TITLES.logs);
    // A canvas widget sizes its drawing surface on attach: redo that for the new size.
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
    this.shmKey = '';
    this.redraw();
  }

  update(snap: Snapshot, logs: LogLine[]): void {
    this.rates.record(snap);
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
    this.panels.run(this.renderNow);
  }

  private draw(snap: Snapshot, logs: LogLine[]): void {
    this.layout(snap.processes.length);
    if (this.rates.draw()) this.panels.mark(this.chart);
    this.drawLatency(snap);
    if (setText(this.pool, poolLines(snap, (this.pool.width as number) - 3))) this.panels.mark(this.pool);
    this.drawShm(snap);
    if (setText(this.segment, segmentLines(snap, (this.segment.width as number) - 3))) this.panels.mark(this.segment);
    this.drawProcesses(snap);
    this.drawEvents(snap);
    this.drawLogs(logs);
    // The notice is drawn over the panels: every panel is drawn while it shows, and once more when it goes.
    if (snap.status === 'waiting') {
      this.waiting.setContent(`{center}{bold}waiting for instance ${blessed.escape(this.instance)}{/bold}\n${blessed.escape(snap.reason ?? '')}{/center}`);
      this.waiting.show();
      this.waiting.setFront();
      this.panels.everything();
    } else if (!this.waiting.hidden) {
      this.waiting.hide();
      this.panels.everything();
    }
  }

  private drawLatency(snap: Snapshot): void {
    if (setTable(this.latency, latencyColumns(snap.functions, (id) => this.rates.ansiOf(id), snap.flows), latencyRows(snap))) this.panels.mark(this.latency);
    this.labelRows(this.latency);
  }

  private drawShm(snap: Snapshot): void {
    const s = snap.shm;
    const key = `${this.shm.width}x${this.shm.height}:${s.warn}:${s.warnPercent}:${Math.round(s.usedPercent)}`;
    if (key === this.shmKey) return;
    this.shmKey = key;
    this.panels.mark(this.shm);
    const labels = s.warn ? [` /dev/shm WARNING > ${s.warnPercent}% `, ` shm WARNING > ${s.warnPercent}% `, ' shm WARNING ', ' WARN '] : [' /dev/shm used ', ' /dev/shm ', ' shm '];
    setLabel(this.shm, labels.find((l) => l.length <= (this.shm.width as number) - 2) ?? labels[labels.length - 1]);
    this.shm.options.stroke = s.warn ? 'red' : 'green';
    this.shm.style.border = { ...(this.shm.style.border as object), fg: s.warn ? 'red' : BORDER };
    // The gauge reads values ≤ 1 as fractions: always hand it one.
    this.shm.setPercent(Math.min(1, s.usedPercent / 100));
  }

  private drawProcesses(snap: Snapshot): void {
    if (setTable(this.procs, processColumns(snap.processes), snap.processes.length)) this.panels.mark(this.procs);
    this.labelRows(this.procs);
  }

  /** A table's title says which of its rows are out of view; redone as the arrow keys scroll it. */
  private labelRows(table: contrib.TableWidget): void {
    if (setLabel(table, moreLabel(table, table === this.procs ? [' processes '] : TITLES.latency, rowView(table)))) this.panels.mark(table);
  }

  private drawEvents(snap: Snapshot): void {
    const items = snap.events.map(eventText);
    this.setList(this.events, items.length ? items : ['{gray-fg}no errors{/gray-fg}']);
  }

  private drawLogs(logs: LogLine[]): void {
    this.setList(this.logs, logs.length ? logs.map(logLine) : [this.logHint]);
  }

  /** Replaces the items and keeps the newest in view unless the user scrolled up in it. */
  private setList(list: blessed.Widgets.ListElement, items: string[]): void {
    const l = list as blessed.Widgets.ListElement & { selected: number; items: unknown[]; ritems: string[] };
    if (l.ritems.length === items.length && items.every((it, i) => l.ritems[i] === it)) return;
    this.panels.mark(list);
    const following = l.selected >= l.items.length - 1;
    list.setItems(items as unknown as blessed.Widgets.BlessedElement[]);
    if (following) list.select(items.length - 1);
  }

  destroy(): void {
    this.screen.destroy();
  }
}

// An event's and a log line's text, made once: the panels list the same ones refresh after refresh.
const texts = new WeakMap<object, string>();
const once = <T extends object>(make: (x: T) => string) => (x: T) => {
  let t = texts.get(x);
  if (t === undefined) texts.set(x, (t = make(x)));
  return t;
};
const COLOR = { error: 'red', warn: 'yellow', info: 'gray' } as const;
const eventText = once((e: Snapshot['events'][number]) => `{${COLOR[e.level]}-fg}${e.at.slice(11, 19)} ${blessed.escape(e.text)}{/${COLOR[e.level]}-fg}`);
const logLine = once(logText);

/** "12:01:02 gateway[123] text" for supervisor-written lines (they name their writer), else "[file] text". */
export function logText(l: LogLine): string {
  return l.stamped ? `${new Date(l.at).toISOString().slice(11, 19)} ${l.text}` : `[${l.source}] ${l.text}`;
}
