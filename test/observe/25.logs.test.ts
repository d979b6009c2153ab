import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogFiles } from '../../src/runtime/supervisor/logs.js';
import { LogTail, isProblem, logFiles } from '../../src/observe/logs.js';

t.test('LogTail follows every log file through appends, rotation and truncation', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-logs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const gw = path.join(dir, 'gateway.log');
  fs.writeFileSync(gw, `${'x'.repeat(5000)}\n2026-11-22T01:00:00.000Z gateway[1] listening\n`);
  const tail = new LogTail(() => [...logFiles(dir), ...logFiles(path.join(dir, 'missing'))], { keep: 100, initialBytes: 2048 });
  const first = tail.poll();
  t.same(first.map((l) => [l.source, l.text, l.stamped]), [['gateway', 'gateway[1] listening', true]], 'only the end of an existing file; its own timestamp parsed');
  t.equal(first[0].at, Date.parse('2026-11-22T01:00:00.000Z'));

  fs.appendFileSync(gw, 'plain line\nhalf a li');
  fs.writeFileSync(path.join(dir, 'fn-2.log'), 'handler says hi\n');
  t.same(tail.poll().map((l) => `${l.source}: ${l.text}`), ['fn-2: handler says hi', 'gateway: plain line'], 'new files and new lines; a partial line waits');
  fs.appendFileSync(gw, 'ne\n');
  t.same(tail.poll().map((l) => l.text), ['half a line'], 'the partial line completes');

  fs.appendFileSync(gw, 'last before rotation\n');
  fs.renameSync(gw, `${gw}.1`);
  fs.writeFileSync(gw, 'after rotation\n');
  t.same(tail.poll().map((l) => l.text), ['last before rotation', 'after rotation'], 'rotated: the rest of the old file, then the new one from its start');
  fs.writeFileSync(gw, '');
  t.same(tail.poll(), [], 'truncated: nothing new');
  fs.appendFileSync(gw, 'after truncation\n');
  t.same(tail.poll().map((l) => l.text), ['after truncation'], 'a truncated file is read from its start');
  t.equal(tail.recent().length, 7);
  t.equal(tail.recent(2).at(-1)?.text, 'after truncation');
});

t.test('problem lines are told apart from ordinary ones', async (t) => {
  for (const line of ['handler error: boom', 'Uncaught TypeError', 'connect ECONNREFUSED 127.0.0.1:9', 'fn1.d1.r0 crashed (exit 1)', 'request timed out after 5000 ms', 'FATAL ERROR: heap limit']) t.ok(isProblem(line), line);
  for (const line of ['gateway listening on http://127.0.0.1:8080', '[handlers] done 1 function(s): 1=echo', 'fn1.d1.r0 pid 31616 ready', 'Every request echoed']) t.notOk(isProblem(line), line);
});

t.test('following from now on: only new lines, none lost or repeated through real rotations', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-logs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'gateway.log'), '2026-11-22T01:00:00.000Z gateway[1] old line\n');
  // The supervisor's own writer, rotating every ~4 KiB and keeping many old files.
  const logs = new LogFiles(dir, { maxBytes: 4096, keep: 50 });
  const tail = new LogTail(() => logFiles(dir), { keep: 0 });
  t.same(tail.poll(), [], 'nothing at the first poll: only what comes after');
  const seen: string[] = [];
  for (let i = 0; i < 300; i++) {
    logs.write('fn-1.log', 'fn1.d1.r0[1]', `line ${i} ${'x'.repeat(100)}`);
    // Polled often at first (a rotation at most between two polls), then rarely: each of those
    // polls spans several rotations, as a poll every 250 ms does behind a busy writer.
    if (i < 150 ? i % 10 === 9 : i % 100 === 99) {
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 5));
      for (const l of tail.poll()) seen.push(l.text);
    }
  }
  await logs.close();
  for (const l of tail.poll()) seen.push(l.text);
  t.ok(fs.readdirSync(dir).filter((f) => f.startsWith('fn-1.log.')).length >= 5, 'the file was rotated several times');
  const numbers = seen.map((l) => Number(/line (\d+)/.exec(l)?.[1]));
  t.same(numbers, Array.from({ length: 300 }, (_, i) => i), 'every line once, in order');
  t.ok(seen.every((l) => l.startsWith('fn1.d1.r0[1] line ')), 'the timestamp is parsed off');
  t.equal(tail.recent().length, 0, 'keep 0: nothing kept');
});

t.test('following from now on: the first line appended to a file there from the start is shown', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-logs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'fn-1.log');
  fs.writeFileSync(file, '2026-11-22T01:00:00.000Z fn1.d1.r0[1] before\n');
  const tail = new LogTail(() => logFiles(dir), { keep: 0 });
  t.same(tail.poll(), [], 'nothing at the first poll');
  fs.appendFileSync(file, '2026-11-22T01:00:01.000Z fn1.d1.r0[1] first after\n2026-11-22T01:00:02.000Z fn1.d1.r0[1] second after\n');
  t.same(tail.poll().map((l) => l.text), ['fn1.d1.r0[1] first after', 'fn1.d1.r0[1] second after'], 'both appended lines, the first included');
  // A file whose last line was still being written when following began: that line's rest is
  // not a line of its own.
  fs.appendFileSync(file, '2026-11-22T01:00:03.000Z fn1.d1.r0[1] half');
  const late = new LogTail(() => logFiles(dir), { keep: 0 });
  late.poll();
  fs.appendFileSync(file, ' a line\n2026-11-22T01:00:04.000Z fn1.d1.r0[1] whole\n');
  t.same(late.poll().map((l) => l.text), ['fn1.d1.r0[1] whole'], 'only the whole line that followed');
});
