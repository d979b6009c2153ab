import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { tailLines } from '../../src/observe/logs.js';
import { LogFiles, prettify } from '../../src/runtime/supervisor/logs.js';

t.test('log files rotate by size and keep the configured number of old files', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-logs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const logs = new LogFiles(dir, { maxBytes: 4096, keep: 2 });
  for (let i = 0; i < 200; i++) {
    logs.write('fn-1.log', 'fn1.d1.r0[1]', `line ${i} ${'x'.repeat(100)}`);
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 20));
  }
  await logs.close();
  const files = fs.readdirSync(dir).sort();
  t.same(files, ['fn-1.log', 'fn-1.log.1', 'fn-1.log.2'], 'current file plus two rotated ones');
  for (const f of files) t.ok(fs.statSync(path.join(dir, f)).size < 4096 + 200, `${f} stays near the limit`);
  const last = tailLines([path.join(dir, 'fn-1.log')], 1)[0];
  t.match(last, /^\d{4}-\d\d-\d\dT[\d:.]+Z fn1\.d1\.r0\[1\] line 199 x+$/);
  // -n more than the current file and .1 hold: .2 gives what came before, in order.
  const kept = files.reduce((n, f) => n + fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).length, 0);
  const all = tailLines([path.join(dir, 'fn-1.log')], 1000).map((l) => Number(/ line (\d+) /.exec(l)?.[1]));
  t.equal(all.length, kept, `every line of the three files (${kept})`);
  t.same(all, all.map((_, i) => 200 - kept + i), 'the oldest kept line first, line 199 last, none missing or repeated');
});

t.test('tailLines merges files by timestamp', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-logs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'a.log'), '2026-01-01T00:00:01.000Z a one\n2026-01-01T00:00:03.000Z a three\n');
  fs.writeFileSync(path.join(dir, 'b.log'), '2026-01-01T00:00:02.000Z b two\n');
  t.same(tailLines([path.join(dir, 'a.log'), path.join(dir, 'b.log')], 2), ['2026-01-01T00:00:02.000Z b two', '2026-01-01T00:00:03.000Z a three']);
  t.same(tailLines([path.join(dir, 'a.log'), path.join(dir, 'b.log')], 0), [], '-n 0: no old lines (with --follow: only new ones)');
});

t.test("children's JSON log lines become readable text", async (t) => {
  t.equal(prettify('{"t":"x","level":"info","pid":1,"msg":"gateway listening","port":8080}'), 'info gateway listening {"port":8080}');
  t.equal(prettify('plain text'), 'plain text');
  t.equal(prettify('{not json'), '{not json');
});
