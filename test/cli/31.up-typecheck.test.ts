// `up` makes the type check `deploy` makes: a handler with a type error is refused before anything
// starts, naming file:line and the fix. The check's pass is recorded (check-cache.ts): an
// unchanged handler is not checked again, a changed one is.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { configText, project } from './helpers.js';

const BAD = "export default async function (input: Uint8Array): Promise<string> {\n  const n: number = 'oops';\n  return String(n + input.length);\n}\n";
const GOOD = BAD.replace("'oops'", '4');

t.test('up checks handler types, and remembers a pass', async (t) => {
  const p = await project(t, 'types');
  const cache = path.join(p.dir, 'cache');
  const env = { XDG_CACHE_HOME: cache };
  const records = () => (fs.existsSync(path.join(cache, 'faasflow', 'checks')) ? fs.readdirSync(path.join(cache, 'faasflow', 'checks')) : []);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'count', handler: './count.ts' }]"));

  p.write('count.ts', BAD);
  const bad = await p.cli(['up'], { env });
  t.not(bad.code, 0, 'up refuses the handler');
  t.match(bad.stderr, /count\.ts:2:\d+: Type 'string' is not assignable to type 'number'/, `names file:line and the error: ${bad.stderr}`);
  t.match(bad.stderr, /Fix it in the handler and run the command again/, 'and the fix');
  t.equal(p.supervisorPid(), undefined, 'nothing was started');
  t.same(records(), [], 'a failed check is not recorded');

  p.write('count.ts', GOOD);
  const first = await p.cli(['up'], { env, json: true });
  t.equal(first.code, 0, `up: ${first.stderr}`);
  t.equal((JSON.parse(first.stdout) as { typeCheck: string }).typeCheck, 'checked');
  const [record] = records();
  t.ok(record, 'the pass is recorded');
  const mtime = fs.statSync(path.join(cache, 'faasflow', 'checks', record)).mtimeMs;
  t.equal((await p.cli(['down'])).code, 0);

  const second = await p.cli(['up'], { env, json: true });
  t.equal(second.code, 0, `up: ${second.stderr}`);
  t.equal((JSON.parse(second.stdout) as { typeCheck: string }).typeCheck, 'cached', 'the unchanged handler is not checked again');
  t.same(records(), [record]);
  t.equal(fs.statSync(path.join(cache, 'faasflow', 'checks', record)).mtimeMs, mtime, 'its record was read, not rewritten');
  t.equal((await p.cli(['down'])).code, 0);

  // A changed handler misses the record: its new error is found.
  p.write('count.ts', BAD.replace("'oops'", "'again'"));
  const changed = await p.cli(['up'], { env });
  t.not(changed.code, 0, 'the changed handler is checked again');
  t.match(changed.stderr, /count\.ts:2:\d+/);
});
