// A domain with a user of its own gets a temporary directory that user can reach, even when the
// supervisor's $TMPDIR lies below a directory only its owner may enter (a mkdtemp directory, as
// a test harness or a CI job makes them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { post } from '../helpers/http.js';
import { configText, project } from './helpers.js';

const WRITER = `import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
export default async function (): Promise<string> {
  const file = path.join(os.tmpdir(), 'written');
  fs.writeFileSync(file, 'x');
  return JSON.stringify({ tmp: os.tmpdir(), uid: process.getuid?.(), written: fs.existsSync(file) });
}
`;

t.test('a $TMPDIR other users cannot reach: each domain still gets a TMPDIR its user can write', { skip: process.getuid?.() !== 0 && 'a user per domain needs root' }, async (t) => {
  const p = await project(t, 'tmp');
  const fenced = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-fenced-'));
  t.teardown(() => fs.rmSync(fenced, { recursive: true, force: true }));
  fs.chmodSync(fenced, 0o700);
  const tmp = path.join(fenced, 'tmp');
  fs.mkdirSync(tmp, { mode: 0o1777 });
  p.write('writer.ts', WRITER);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'writer', handler: './writer.ts' }]"));

  const up = await p.cli(['up'], { env: { TMPDIR: tmp } });
  t.equal(up.code, 0, up.stderr);
  t.notMatch(up.stderr, /failed/, `every container started: ${up.stderr}`);
  t.teardown(() => p.cli(['down'], { env: { TMPDIR: tmp } }).then(() => undefined));
  const r = await post(p.port, '/function/1', '');
  t.equal(r.status, 200, r.body.toString());
  const seen = JSON.parse(r.body.toString()) as { tmp: string; uid: number; written: boolean };
  t.not(seen.uid, 0, `the handler runs as a user of its own (uid ${seen.uid})`);
  t.equal(seen.tmp, `/tmp/faasflow-${p.instance}@writer`, 'its TMPDIR is in /tmp, which every user can reach');
  t.ok(seen.written, 'and it can write there');

  const down = await p.cli(['down'], { env: { TMPDIR: tmp } });
  t.equal(down.code, 0, down.stderr);
  t.notOk(fs.existsSync(seen.tmp), 'down removes it');
});
