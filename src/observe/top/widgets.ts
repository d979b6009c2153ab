// Fitting text into blessed widgets: tables whose columns give way by priority on a narrow
// terminal, titles that shrink, cells clipped by their width on screen (colours kept).
import blessed from 'blessed';
import type contrib from 'blessed-contrib';

/** A table column: its cells, and a compact form of them for narrow terminals. */
export interface Column {
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

/**
 * blessed's setContent(text, noClear). Without noClear it first blanks the element's cells in the
 * screen buffer (clearPos: a fill of its whole area, a tenth of a refresh's CPU when the process
 * table's rows change); every element set here belongs to a panel marked for redrawing, whose
 * render writes every cell of its area again, so the blanking is never seen.
 */
interface Settable {
  setContent(text: string, noClear?: boolean): void;
}

/** Length on screen: without SGR escapes and blessed tags. */
export function visibleLength(s: string): number {
  // Most cells are plain numbers and names: no regex pass (and no copies) for those.
  if (!s.includes('\x1b') && !s.includes('{')) return s.length;
  return s.replace(SGR_ALL, '').replace(/\{\/?[a-z-]*\}/g, '').length;
}

/** `cell` cut to `width` on screen with an ellipsis, keeping a colour that wraps it whole. */
export function clip(cell: string, width: number): string {
  if (visibleLength(cell) <= width) return cell;
  const m = WRAPPED.exec(cell)!;
  const text = m[2].replace(SGR_ALL, '');
  return `${m[1] ?? ''}${text.slice(0, Math.max(0, width - 1))}…${m[3] ?? ''}`;
}

/**
 * Fits `cols` to the table's width: each column as wide as its widest cell; every required column
 * first, in long form if all of them fit, else compact; then optional ones by priority while they
 * fit. Shown in their given order. Returns whether the table shows anything else now.
 */
export function setTable(t: contrib.TableWidget, cols: Column[], rows: number): boolean {
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
  const widths = idx.map((i) => width[i]);
  const line = (cells: string[]) => tableLine(cells, widths, t.options.columnSpacing);
  return setRows(t, line(idx.map((i) => clip(shape[i].header, width[i]))), Array.from({ length: rows }, (_, r) => line(idx.map((i) => clip(shape[i].cells[r], width[i])))));
}

/** A row as blessed-contrib's table lays it out: each cell padded to its column's width, then the spacing less one. */
function tableLine(cells: string[], widths: number[], spacing: number): string {
  let s = '';
  for (let i = 0; i < cells.length; i++) s += cells[i] + ' '.repeat(Math.max(0, widths[i] - visibleLength(cells[i]) + spacing - 1));
  return s;
}

/**
 * Sets the header and the rows of a table, each only where it differs from what the table shows:
 * blessed clears and re-parses a list item whenever its content is set, the same or not, and on a
 * quiet refresh most rows are the same. Returns whether anything changed.
 */
function setRows(t: contrib.TableWidget, header: string, rows: string[]): boolean {
  const list = t.rows as unknown as { items: Settable[]; ritems: string[]; setItems(items: string[]): void };
  let changed = false;
  if (t.content !== header) {
    (t as unknown as Settable).setContent(header, true);
    changed = true;
  }
  if (list.items.length !== rows.length) {
    list.setItems(rows);
    return true;
  }
  for (let i = 0; i < rows.length; i++) {
    if (list.ritems[i] === rows[i]) continue;
    list.items[i].setContent(rows[i], true);
    list.ritems[i] = rows[i];
    changed = true;
  }
  return changed;
}

/** Rows of a table out of view, above and below what it shows. */
export interface RowView {
  above: number;
  below: number;
}

/** Where the table's view is now: blessed's list scrolls by `childBase`, its first row in view. */
export function rowView(t: contrib.TableWidget): RowView {
  const list = t.rows as unknown as { items: unknown[]; childBase?: number };
  const visible = Math.max(0, (t.height as number) - 3);
  const above = Math.min(list.childBase ?? 0, Math.max(0, list.items.length - visible));
  return { above, below: Math.max(0, list.items.length - above - visible) };
}

/**
 * The panel's title, with "+N more (↑↓ scroll)" when rows are out of view below, and how many
 * are above once scrolled: it follows the view as the arrow keys move it.
 */
export function moreLabel(t: blessed.Widgets.BoxElement, titles: string[], v: RowView): string {
  const room = (t.width as number) - 4;
  const base = titles.find((x) => x.length <= room) ?? titles[titles.length - 1];
  const hidden = v.above + v.below;
  if (hidden <= 0) return base;
  const where = v.above === 0 ? `+${v.below} more` : v.below === 0 ? `+${v.above} more above` : `+${v.above} above, +${v.below} below`;
  const more = [`${base}${where} (↑↓ scroll) `, ` ${where} (↑↓ scroll) `, ` ${where} `, ` +${hidden} more `];
  return more.find((x) => x.length <= room) ?? more[more.length - 1];
}

/**
 * blessed-contrib's table leaves an empty line under the header and indents rows by one column
 * (so they sit off the header by one); rows directly under the header, aligned with it, show
 * one more process on a small terminal.
 */
export function tightTable(t: contrib.TableWidget): void {
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

// What each box shows now, so an unchanged text or title is not handed to blessed again (it
// re-parses and redraws either way).
const shown = new WeakMap<blessed.Widgets.BoxElement, string>();
const labels = new WeakMap<blessed.Widgets.BoxElement, string>();

function changed(seen: WeakMap<blessed.Widgets.BoxElement, string>, box: blessed.Widgets.BoxElement, text: string): boolean {
  if (seen.get(box) === text) return false;
  seen.set(box, text);
  return true;
}

/** Sets a box's text if it is another; returns whether it was. */
export function setText(box: blessed.Widgets.BoxElement, text: string): boolean {
  if (!changed(shown, box, text)) return false;
  (box as unknown as Settable).setContent(text, true);
  return true;
}

/** Sets a panel's title if it is another; returns whether it was. */
export function setLabel(box: blessed.Widgets.BoxElement, text: string): boolean {
  if (!changed(labels, box, text)) return false;
  box.setLabel(text);
  return true;
}
