// `faasflow secret` on the real CLI: create (standard input and --from-file), ls, rm, the names
// and values it refuses; `up` and `deploy` refusing a function whose secret is missing.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { post } from '../helpers/http.js';
import { SECRET_READER, configText, project } from './helpers.js';


t.test('secret create, ls, rm; bad names and values; up and deploy need the secrets they name', async (t) => {
  const p = await project(t, 'sec');
  const store = path.join(p.dir, 'state', 'secrets');
  t.equal((await p.cli(['secret', 'ls'])).stdout.trim(), `No secrets (instance ${p.instance}): create one with \`faasflow secret create NAME\`.`, 'ls says there are none and how to make one');

  const made = await p.cli(['secret', 'create', 'api-key'], { input: 'k1' });
  t.equal(made.code, 0, made.stderr);
  t.match(made.stdout, /secret api-key created \(2 bytes\)/);
  t.equal(fs.readFileSync(path.join(store, 'api-key'), 'utf8'), 'k1', 'standard input is the value, byte for byte');
  t.equal(fs.statSync(path.join(store, 'api-key')).mode & 0o777, 0o600, 'stored 0600');
  p.write('k2.txt', 'k2\n');
  const replaced = await p.cli(['secret', 'create', 'api-key', '--from-file', 'k2.txt']);
  t.match(replaced.stdout, /secret api-key replaced \(3 bytes\)/, '--from-file replaces it');
  t.same(fs.readdirSync(store), ['api-key'], 'no temporary file is left beside it');

  for (const bad of ['Api-Key', 'pass word', 'x-', 'a_b', 'a.b', 'x'.repeat(64)]) {
    const r = await p.cli(['secret', 'create', bad], { input: 'v' });
    t.equal(r.code, 1, `"${bad}" is refused`);
    t.match(r.stderr, /invalid secret name .*lower-case letters, digits or "-"/, 'saying what a name may be');
  }
  const empty = await p.cli(['secret', 'create', 'empty'], { input: '' });
  t.match(empty.stderr, /the value of secret empty is empty/, 'an empty value is refused');
  const big = await p.cli(['secret', 'create', 'big'], { input: 'x'.repeat(64 * 1024 + 1) });
  t.match(big.stderr, /over 65536 bytes \(64 KiB\)/, 'a value over 64 KiB is refused');
  p.write('big.bin', 'x'.repeat(64 * 1024 + 1));
  t.match((await p.cli(['secret', 'create', 'big', '--from-file', 'big.bin'])).stderr, /big\.bin is 65537 bytes/, 'from a file too');
  t.match((await p.cli(['secret', 'create', 'big', '--from-file', 'nosuch'])).stderr, /cannot read --from-file nosuch/, 'a missing file is named');

  const ls = JSON.parse((await p.cli(['secret', 'ls'], { json: true })).stdout) as { name: string; bytes: number; updated: string }[];
  t.same(ls.map((s) => [s.name, s.bytes]), [['api-key', 3]], 'ls --json: names and sizes');
  t.ok(Date.parse(ls[0].updated) > 0, 'and when it was written');
  t.match((await p.cli(['secret', 'ls'])).stdout, /NAME\s+SIZE\s+UPDATED\napi-key\s+3 B/, 'ls as a table');

  p.write('reader.ts', SECRET_READER);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './reader.ts', secrets: ['api-key'] }]"));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.equal((await post(p.port, '/function/1', '')).body.toString(), 'k2\n', 'the function reads the secret');
  t.equal((await p.cli(['secret', 'rm', 'api-key'])).code, 0, 'rm');
  t.same(fs.readdirSync(store), [], 'rm removes the file');
  const dep = await p.cli(['deploy', './reader.ts', '--id', '1']);
  t.equal(dep.code, 1, 'deploy of a function whose secret is gone fails');
  t.match(dep.stderr, /function 1 \(reader\) needs secret api-key, which does not exist: create it with `faasflow secret create api-key`/, 'naming the secret and the command');
  t.equal((await post(p.port, '/function/1', '')).body.toString(), 'k2\n', 'and the running version serves on');
  const rmAgain = await p.cli(['secret', 'rm', 'api-key']);
  t.match(rmAgain.stderr, /no secret api-key \(instance .*\): `faasflow secret ls` lists them/, 'rm of a missing secret says so');
  t.equal((await p.cli(['down'])).code, 0);

  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './reader.ts', secrets: ['api-key', 'Bad_Name'] }]"));
  const badCfg = await p.cli(['up']);
  t.equal(badCfg.code, 1, 'a config naming an invalid secret name is refused');
  t.match(badCfg.stderr, /secrets.*secret names must be 1-63 lower-case letters/);
});
