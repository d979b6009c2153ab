import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogTail, isProblem } from '../../src/observe/logs.js';

t.test('LogTail follows every log file through appends, rotation and truncation', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-logs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const gw = path.join(dir, 'gateway.log');
  fs.writeFileSync(gw, `${'x'.repeat(5000)}\n2026-11-22T01:00:00.000Z gateway[1] listening\n`);
  const tail = new LogTail([dir, path.join(dir, 'missing')], 100, 2048);
  const first = tail.poll();
  t.same(first.map((l) => [l.source, l.text, l.stamped]), [['gateway', 'gateway[1] listening', true]], 'only the end of an existing file; its own timestamp parsed');
  t.equal(first[0].at, Date.parse('2026-11-22T01:00:00.000Z'));

  fs.appendFileSync(gw, 'plain line\nhalf a li');
  fs.writeFileSync(path.join(dir, 'fn-2.log'), 'handler says hi\n');
  t.same(tail.poll().map((l) => `${l.source}: ${l.text}`), ['fn-2: handler says hi', 'gateway: plain line'], 'new files and new lines; a partial line waits');
  fs.appendFileSync(gw, 'ne\n');
  t.same(tail.poll().map((l) => l.text), ['half a line'], 'the partial line completes');

  fs.renameSync(gw, `${gw}.1`);
  fs.writeFileSync(gw, 'after rotation\n');
  t.same(tail.poll().map((l) => l.text), ['after rotation'], 'a rotated file is read from its start');
  fs.writeFileSync(gw, '');
  t.same(tail.poll(), [], 'truncated: nothing new');
  fs.appendFileSync(gw, 'after truncation\n');
  t.same(tail.poll().map((l) => l.text), ['after truncation'], 'a truncated file is read from its start');
  t.equal(tail.recent().length, 6);
  t.equal(tail.recent(2).at(-1)?.text, 'after truncation');
});

t.test('problem lines are told apart from ordinary ones', async (t) => {
  for (const line of ['handler error: boom', 'Uncaught TypeError', 'connect ECONNREFUSED 127.0.0.1:9', 'fn1.d1.r0 crashed (exit 1)', 'request timed out after 5000 ms', 'FATAL ERROR: heap limit']) t.ok(isProblem(line), line);
  for (const line of ['gateway listening on http://127.0.0.1:8080', '[handlers] done 1 function(s): 1=echo', 'fn1.d1.r0 pid 31616 ready', 'Every request echoed']) t.notOk(isProblem(line), line);
});
