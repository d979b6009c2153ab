// The segment's config: the default classes (every power of two from 4 KiB to 16 MiB), a listed
// class list with or without counts, segment.wait, and what is refused at load, naming the field
// and the fix: classes the layout cannot take, and a largest class no domain's share can hold.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { configError } from '../helpers/config.js';
import { DEFAULT_CLASSES } from '../../src/shm/index.js';

const ECHO = 'export default async (input: Uint8Array) => input;\n';

function dirWith(t: Test, config: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-cfg-'));
  fs.writeFileSync(path.join(dir, 'echo.ts'), ECHO);
  fs.writeFileSync(path.join(dir, 'faasflow.config.ts'), config);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const withSegment = (segment: string, functions = "[{ id: 1, handler: './echo.ts' }]") => `export default { segment: ${segment}, functions: ${functions} };\n`;

t.test('defaults: every power of two from 4 KiB to 16 MiB, a 5 s wait for memory', async (t) => {
  const c = await loadConfig({ cwd: dirWith(t, withSegment('{}')), instance: 'x' });
  t.same(c.segment.classes.map((x) => x.size), Array.from({ length: 13 }, (_, i) => 4096 << i));
  t.same(c.segment.classes, DEFAULT_CLASSES);
  t.equal(c.segment.waitMs, 5000);
  t.equal(c.segment.size, 1 << 30);
});

t.test('listed classes keep working, with or without counts; segment.wait takes a duration', async (t) => {
  const c = await loadConfig({ cwd: dirWith(t, withSegment("{ size: '256MiB', wait: '2s', classes: [{ size: '4KiB' }, { size: '64KiB', count: 100 }, { size: '1MiB' }] }")), instance: 'x' });
  t.same(c.segment.classes, [{ size: 4096 }, { size: 65536, count: 100 }, { size: 1 << 20 }]);
  t.equal(c.segment.waitMs, 2000);
  const none = await loadConfig({ cwd: dirWith(t, withSegment('{ wait: 0 }')), instance: 'x' });
  t.equal(none.segment.waitMs, 0, '0: a short domain answers 503 at once');
});

t.test('what cannot work is refused at load, naming the field and the fix', async (t) => {
  t.match(await configError(dirWith(t, withSegment("{ classes: [{ size: 3000 }] }"))), /segment\.classes\[0\]\.size: 3000 is not a power of two from 256 B to 1 GiB: use e\.g\. '64KiB' or '1MiB'/);
  t.match(await configError(dirWith(t, withSegment("{ classes: [{ size: '1MiB' }, { size: '4KiB' }] }"))), /segment\.classes\[1\]\.size: 4\.0 KiB comes after 1\.0 MiB: list the classes smallest first, each once/);
  const seventeen = Array.from({ length: 17 }, (_, i) => `{ size: ${256 << i} }`).join(', ');
  t.match(await configError(dirWith(t, withSegment(`{ classes: [${seventeen}] }`))), /segment\.classes: 17 size classes, at most 16 are allowed/);
  t.match(await configError(dirWith(t, withSegment('{ classes: [] }'))), /segment\.classes: list at least one class, or leave segment\.classes out for the default/);
  t.match(await configError(dirWith(t, withSegment("{ wait: '20m' }"))), /segment\.wait: must be at most 10 minutes/);
  t.match(await configError(dirWith(t, withSegment("{ wait: 'soon' }"))), /segment\.wait: "soon" is not a duration/);
  // Two domains of 64 MiB each: a request may take its budget less the reserve for replies (at
  // least the largest class), so a 64 MiB class never fits.
  const two = "[{ id: 1, handler: './echo.ts' }, { id: 2, name: 'b', handler: './echo.ts' }]";
  const msg = await configError(dirWith(t, withSegment("{ size: '128MiB', classes: [{ size: '4KiB' }, { size: '64MiB' }] }", two)));
  t.match(msg, /segment\.classes: a body of the largest class \(64\.0 MiB\) never fits: each of the 2 domains gets 64\.0 MiB of segment\.size \(128\.0 MiB\), and a request may take the budget less a reserve for replies at least as large as that class\. Raise segment\.size to 257\.0 MiB or more, or drop the largest class/);
  const fits = await loadConfig({ cwd: dirWith(t, withSegment("{ size: '257MiB', classes: [{ size: '4KiB' }, { size: '64MiB' }] }", two)), instance: 'x' });
  t.equal(fits.segment.size, 257 << 20, 'with the size it names, it loads');
});
