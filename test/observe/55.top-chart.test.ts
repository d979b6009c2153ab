import t from 'tap';
import { renderChart } from '../../src/observe/top/chart.js';

const SGR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const plain = (s: string) => s.replace(SGR, '');

t.test("top's requests/s chart: fits its box, scales to the highest point, one colour escape per run", async (t) => {
  const rising = Array.from({ length: 60 }, (_, i) => i / 10); // 0 … 5.9 req/s
  const idle = new Array<number>(60).fill(0);
  const text = renderChart([{ y: idle, ansi: 32 }, { y: rising, ansi: 33 }], 60, 14);
  const lines = text.split('\n');
  t.equal(lines.length, 12, 'as many lines as the box has inside its border');
  for (const l of lines) t.ok([...plain(l)].length <= 58, `no line wider than the box: ${JSON.stringify(plain(l))}`);
  t.match(lines[0], /^\s*\d+(\.\d+)? ┤/, 'the top line carries the highest label');
  t.ok(Number(plain(lines[0]).trim().split(' ')[0]) >= 5.9, 'the scale reaches above the highest point');
  t.match(lines[lines.length - 2], /└─+$/, 'the x axis');
  t.match(lines[lines.length - 1], /-60s.*-50s.*-10s/, 'labelled every 10 s');
  const plot = lines.slice(0, -2);
  const highest = plot.findIndex((l) => /[\u2801-\u28ff]/.test(plain(l)));
  t.ok(highest >= 0 && highest < plot.length / 2, `the highest point is in the upper half of the plot (row ${highest})`);
  t.ok(/[\u2801-\u28ff]\s*$/.test(plain(plot[highest])), 'at the right end: the newest');
  t.ok(plot[highest].includes(`${String.fromCharCode(27)}[33m`), 'in the rising series’ colour');
  t.ok(/ ┤[\u2801-\u28ff]/.test(plain(plot[plot.length - 1])), 'the idle series runs along the bottom row from the left');
  for (const l of plot) t.ok((l.match(SGR) ?? []).length <= 2 * 2, 'a handful of escapes a line, not one per dot');
  t.equal(renderChart([{ y: idle, ansi: 37 }], 10, 4), '', 'a box too small for a chart stays empty');
});
