// async.durability with the SQLite store: 'power' commits an accepted request with
// synchronous=FULL (an fsync), 'process' with synchronous=NORMAL. The queue reads the pragma back
// on its own connection inside the commit of the first accepted request and logs it (a pragma is a
// connection's own: another connection to the file would read its own default).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { post } from '../helpers/http.js';
import { configText, project, until } from '../cli/helpers.js';
import { RECORDER } from './helpers.js';

function findFile(dir: string, name: string): string | undefined {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.name === name) return p;
    const f = e.isDirectory() ? findFile(p, name) : undefined;
    if (f) return f;
  }
  return undefined;
}

for (const [durability, pragma] of [['power', 2], ['process', 1], [undefined, 2]] as const) {
  t.test(`async.durability ${durability ?? '(default)'}: accepts commit with PRAGMA synchronous = ${pragma}`, async (t) => {
    const p = await project(t, `dur${pragma}`);
    p.write('rec.ts', RECORDER);
    p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, name: 'rec', handler: './rec.ts', env: { REC_FILE: ${JSON.stringify(path.join(p.dir, 'runs.log'))} } }]`,
      `  security: { sandbox: false },\n  async: {${durability ? ` durability: '${durability}'` : ''} },\n`));
    const up = await p.cli(['up']);
    t.equal(up.code, 0, up.stderr);
    const r = await post(p.port, '/async-function/rec', 'x');
    t.equal(r.status, 202);
    const line = await until(() => {
      const log = findFile(p.runtimeDir, 'queue.log');
      return log && /first accepted request committed with PRAGMA synchronous = (\d)/.exec(fs.readFileSync(log, 'utf8'));
    }, 10_000, 'the queue to log the pragma');
    t.equal(Number(line?.[1]), pragma, `synchronous read back on the queue's connection is ${pragma === 2 ? 'FULL' : 'NORMAL'}`);
    t.equal((await p.cli(['down'])).code, 0);
  });
}

t.test('a durability that is neither is a config error naming both', async (t) => {
  const p = await project(t, 'durbad');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'rec', handler: './rec.ts' }]", "  async: { durability: 'disk' },\n"));
  const up = await p.cli(['up']);
  t.not(up.code, 0);
  t.match(up.stderr, /async\.durability.*must be 'power'.*or 'process'/);
});
