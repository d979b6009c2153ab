// Secrets on a real instance, as root (a uid per domain and Landlock) and as an unprivileged user
// (Landlock): the function that names a secret reads it with ctx.secret; a hostile handler in
// another domain cannot read it by any path (its domain's copy, the store); the value is in no
// environment, log, config or `ps` output.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execaSync } from 'execa';
import { post } from '../helpers/http.js';
import { startInstance, type User } from './helpers.js';
import { asRootAndUnprivileged } from './harness.js';

const FILES = {
  'keeper.ts': fs.readFileSync(new URL('./fixtures/secret-keeper.ts', import.meta.url), 'utf8'),
  'thief.ts': fs.readFileSync(new URL('./fixtures/secret-thief.ts', import.meta.url), 'utf8'),
};
const CONFIG = (port: number) => `export default {
  gateway: { port: ${port} },
  segment: { size: '64MiB' },
  functions: [
    { id: 1, name: 'keeper', handler: './keeper.ts', secrets: ['db-password'] },
    { id: 2, name: 'thief', handler: './thief.ts' },
  ],
};
`;

/** Every file below `dir` (what a reader with the directory's access could search). */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

async function secretsRun(t: Test, user?: User): Promise<void> {
  const inst = await startInstance(t, CONFIG, FILES, user);
  const value = `pw-${randomBytes(12).toString('hex')}`;
  const file = path.join(inst.dir, 'pw.txt');
  fs.writeFileSync(file, value, { mode: 0o600 });
  if (user) execaSync('chown', [`${user.uid}:${user.gid}`, file]);

  const missing = await inst.cli(['up']);
  t.not(missing.code, 0, 'up fails while the secret does not exist');
  t.match(missing.stderr, /function 1 \(keeper\) needs secret db-password.*faasflow secret create db-password/s, `the error names the function, the secret and the command: ${missing.stderr}`);

  const created = await inst.cli(['secret', 'create', 'db-password', '--from-file', file]);
  t.equal(created.code, 0, `secret create: ${created.stderr}`);
  fs.rmSync(file);
  const store = path.join(inst.stateDir, 'secrets', 'db-password');
  t.equal(fs.statSync(store).mode & 0o777, 0o600, 'the stored secret is 0600');
  t.equal(fs.statSync(inst.stateDir).mode & 0o777, 0o700, 'the state directory is 0700');

  const up = await inst.cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);
  const kept = JSON.parse((await post(inst.port, '/function/1', '')).body.toString()) as { value: string; dir: string; inEnv: boolean; stateDirKnown: boolean };
  t.equal(kept.value, value, 'the function reads its secret with ctx.secret');
  t.notOk(kept.inEnv, 'the value is not in the function\'s environment');
  t.notOk(kept.stateDirKnown, 'the function is not told where the state directory is');
  const dirStat = fs.statSync(kept.dir);
  const copyStat = fs.statSync(path.join(kept.dir, 'db-password'));
  t.equal(dirStat.mode & 0o777, 0o500, 'the domain\'s secrets directory is 0500');
  t.equal(copyStat.mode & 0o777, 0o400, 'its copy of the secret is 0400');
  if (!user) t.not(copyStat.uid, 0, 'as root the copy belongs to the domain\'s own user');

  const stolen = JSON.parse((await post(inst.port, '/function/2', JSON.stringify({ dir: kept.dir, stateDir: inst.stateDir }))).body.toString()) as Record<string, string>;
  t.same(stolen, { 'read the copy': 'EACCES', 'list the copy': 'EACCES', 'read the store': 'EACCES', 'list the store': 'EACCES', 'ctx.secret': 'refused' }, 'another domain\'s handler reads the secret by no path');

  const ps = await inst.cli(['ps'], true);
  t.notOk(ps.stdout.includes(value), 'ps --json does not show the value');
  const pids = (JSON.parse(ps.stdout) as { supervisorPid: number; children: { pid: number }[] }).children.map((c) => c.pid);
  for (const pid of pids) t.notOk(fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(value), `pid ${pid}'s environment does not hold the value`);
  const leaks = filesUnder(inst.runtimeDir).filter((f) => fs.readFileSync(f, 'utf8').includes(value));
  t.same(leaks, [], 'no file of the runtime directory (logs, config, state) holds the value');
  const ls = await inst.cli(['secret', 'ls'], true);
  t.same((JSON.parse(ls.stdout) as { name: string; bytes: number }[]).map((s) => [s.name, s.bytes]), [['db-password', value.length]], 'secret ls lists name and size');
  t.notOk(ls.stdout.includes(value), 'secret ls does not show the value');

  // The domain's copy sits in a 0500 directory: a stop (unprivileged: by its owner) still removes it.
  const down = await inst.cli(['down']);
  t.equal(down.code, 0, `down: ${down.stderr}`);
  t.notOk(fs.existsSync(kept.dir), 'down removes the domain\'s secrets directory');
  t.notOk(fs.existsSync(`/dev/shm/faasflow-${inst.name}`), 'and the runtime segment');
  t.notOk(fs.readFileSync(path.join(inst.runtimeDir, 'logs', 'supervisor.log'), 'utf8').includes('could not remove'), 'with nothing it could not remove');
}

asRootAndUnprivileged(t, 'a secret is read by its function and by no other domain', secretsRun);
