// The supervisor's log files (src/runtime/supervisor/logs.ts, log-file.ts) against what a function
// can write: files rotated by bytes even inside a burst of long lines, a write queue that drops and
// counts rather than grows, a rate per function that the supervisor's own lines are outside of.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogFiles } from '../../src/runtime/supervisor/logs.js';

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-logfiles-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A child's line to `logs` as the wiring passes it (bytes); whether it was logged. */
function out(logs: LogFiles, file: string, who: string, text: string, cut: number, limited: boolean): boolean {
  return logs.output(file, who, Buffer.from(text), cut, limited) !== undefined;
}

/** Every file of `dir` with its size and lines, oldest first (x.log.3, x.log.2, x.log.1, x.log). */
function files(dir: string): { name: string; size: number; lines: string[] }[] {
  const age = (name: string) => Number(/\.(\d+)$/.exec(name)?.[1] ?? 0);
  return fs.readdirSync(dir).sort((a, b) => age(b) - age(a)).map((name) => {
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    return { name, size: Buffer.byteLength(text), lines: text.split('\n').filter(Boolean) };
  });
}

t.test('no file passes maxSize, whatever the lengths of the lines; a line longer than it gets a file of its own', async (t) => {
  const dir = tmpDir(t);
  const logs = new LogFiles(dir, { maxBytes: 8192, keep: 100, maxLine: 20_000 });
  const lengths = [100, 8000, 10, 7000, 3000, 12_000, 5, 8100, 200, 4000, 4000, 4000];
  for (const [i, n] of lengths.entries()) t.ok(out(logs, 'fn-1.log', 'fn1[1]', `${i} ${'x'.repeat(n)}`, 0, false), `line ${i} of ${n} bytes accepted`);
  await logs.close();
  const all = files(dir);
  for (const f of all) t.ok(f.size <= 8192 || f.lines.length === 1, `${f.name}: ${f.size} bytes in ${f.lines.length} line(s)`);
  t.ok(all.length >= 6, `rotated ${all.length - 1} times`);
  const written = all.flatMap((f) => f.lines).map((l) => Number(/ fn1\[1\] (\d+) /.exec(l)?.[1]));
  t.same(written, lengths.map((_, i) => i), 'every line once, in order across the rotated files');
});

t.test('a disk slower than the writer: the queue stays bounded, lines are dropped and counted, the supervisor\'s own lines still go in', async (t) => {
  const dir = tmpDir(t);
  const logs = new LogFiles(dir, { maxBytes: 0, keep: 0 });
  const before = process.memoryUsage().rss;
  let accepted = 0;
  // All in one turn of the event loop: to the queue, the disk has not written a byte yet.
  const line = 'z'.repeat(1000);
  for (let i = 0; i < 20_000; i++) if (out(logs, 'fn-3.log', 'fn3[1]', line, 0, false)) accepted++;
  logs.write('fn-3.log', 'supervisor[1]', 'fn3[1] exited with code 1');
  t.ok(accepted > 500 && accepted <= 1100, `about 1 MiB queued (${accepted} lines of 1000 bytes), the rest refused`);
  t.ok(process.memoryUsage().rss - before < 64 << 20, 'memory did not grow with the 20 MB written');
  await logs.close();
  const [f] = files(dir);
  t.equal(f.lines.filter((l) => l.endsWith(line)).length, accepted, 'every accepted line is in the file');
  t.ok(f.lines.some((l) => / supervisor\[1\] fn3\[1\] exited with code 1$/.test(l)), 'the supervisor\'s own line too: it has room past a full queue');
  t.match(f.lines.at(-1), new RegExp(`dropped ${20_000 - accepted} lines \\([\\d.]+ MiB\\) from fn-3: the log file is written slower than it grows$`), 'the drop is said, with the count');
});

t.test('logs.rate: a function\'s lines past its bucket are dropped and said once a second; the supervisor\'s are not limited', async (t) => {
  const dir = tmpDir(t);
  const logs = new LogFiles(dir, { maxBytes: 0, keep: 0, maxLine: 1024, rate: 2048, burst: 8192 });
  const results: boolean[] = [];
  for (let i = 0; i < 100; i++) results.push(out(logs, 'fn-2.log', 'fn2[1]', `${i} ${'r'.repeat(1000)}`, 0, true));
  for (let i = 0; i < 20; i++) logs.write('fn-2.log', 'supervisor[1]', `own line ${i}`);
  // A line costs what it adds to the file: 1003 bytes, the timestamp (24), who (6), 2 spaces and the newline.
  t.same(results.slice(0, 7), Array(7).fill(true), 'the burst passes: 7 lines of 1036 bytes');
  t.equal(results.filter(Boolean).length, 7, 'then nothing (the bucket holds 8 KiB)');
  for (let i = 0; i < 1000; i++) results.push(out(logs, 'fn-4.log', 'fn4[1]', 'x', 0, true));
  // 34 bytes a line: 240 in the burst, and a line or two more for the rate while the loop runs.
  const tiny = results.slice(100).filter(Boolean).length;
  t.ok(tiny >= 240 && tiny <= 245, `a 1-byte line costs its timestamp too: ${tiny} of 1000 passed`);
  t.ok(out(logs, 'fn-5.log', 'fn5[1]', 'another function', 0, true), 'another function has its own bucket');
  const notice = /supervisor\[\d+\] dropped 93 lines \([\d.]+ KiB\) from fn-2: over logs\.rate \(2\.0 KiB\/s\)$/;
  // The notice comes within about a second, from a timer: no waiting for the next line.
  let lines: string[] = [];
  for (let i = 0; i < 100 && !lines.some((l) => notice.test(l)); i++) {
    await new Promise((r) => setTimeout(r, 100));
    lines = fs.existsSync(path.join(dir, 'fn-2.log')) ? fs.readFileSync(path.join(dir, 'fn-2.log'), 'utf8').split('\n') : [];
  }
  t.equal(lines.filter((l) => notice.test(l)).length, 1, 'one notice for the drops of that second');
  t.equal(lines.filter((l) => / own line \d+$/.test(l)).length, 20, 'every supervisor line is written, the rate spent or not');
  await logs.close();
});

t.test('a function\'s line as logged: JSON made readable, control characters escaped, a cut marked', async (t) => {
  const dir = tmpDir(t);
  const logs = new LogFiles(dir, { maxBytes: 0, keep: 0, maxLine: 1024 });
  t.equal(logs.output('fn-1.log', 'fn1[1]', Buffer.from(JSON.stringify({ level: 'info', msg: 'clear\x1b[2J\nscreen', n: 1 })), 0, true), 'clear\x1b[2J\nscreen', 'what a JSON line says is its message');
  out(logs, 'fn-1.log', 'fn1[1]', 'a'.repeat(1024), 5000, true);
  out(logs, 'fn-1.log', 'fn1[1]', '\0'.repeat(1000), 0, true);
  await logs.close();
  const [f] = files(dir);
  t.match(f.lines[0], / fn1\[1\] info clear\\x1b\[2J\\nscreen \{"n":1\}$/, 'a JSON message\'s escapes stay escapes');
  t.match(f.lines[1], new RegExp(` fn1\\[1\\] ${'a'.repeat(1024)} … \\[cut: 5000 bytes\\]$`), 'the reader\'s cut is marked');
  t.match(f.lines[2], new RegExp(` fn1\\[1\\] (\\\\x00){256} … \\[cut: 2976 bytes\\]$`), 'escaping cannot make a line longer than maxLine: the escaped text is cut too');
  t.notOk(fs.readFileSync(path.join(dir, 'fn-1.log')).includes(0), 'no NUL byte reaches the file');
});
