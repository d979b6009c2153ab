// What the image does, without a container engine: faasflow packed with `npm pack`, installed from
// the tarball into an empty directory, started with `faasflow up --foreground --log-format json` as
// PID 1 of a PID namespace of its own and as a non-root user the test creates; SIGTERM under load
// drains it (no request sent before the signal fails) and it exits 0, leaving no segment behind.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { ROOT, freePort, until } from '../cli/helpers.js';
import { startLoad } from './load.js';

const SLOW = 'export default async function (input: Uint8Array): Promise<Uint8Array> {\n  await new Promise((r) => setTimeout(r, 20));\n  return input;\n}\n';
const need = ['useradd', 'userdel', 'unshare', 'setpriv'].filter((c) => !fs.existsSync(`/usr/sbin/${c}`) && !fs.existsSync(`/usr/bin/${c}`));
const skip = process.getuid?.() !== 0 ? 'needs root: it creates a user and a PID namespace' : need.length ? `needs ${need.join(', ')} (util-linux, passwd)` : false;

const children = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
const statusField = (pid: number, field: string) => /^(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`)) ?? '')?.[1].split(/\s+/).slice(1) ?? [];

// A real `npm install` of the tarball compiles better-sqlite3 and faasflow's addon: about two
// minutes on a quiet 2-vCPU machine, three or more under load, more than tap's 180 s per file.
t.setTimeout(600_000);

t.test('packed, installed, PID 1, not root: SIGTERM under load drains and exits 0', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-pid1-'));
  fs.chmodSync(dir, 0o755);
  const user = `ffp1-${process.pid}`;
  const instance = `pid1-${process.pid}`;
  t.teardown(() => {
    for (const f of fs.readdirSync('/dev/shm')) if (f === `faasflow-${instance}` || f.startsWith(`faasflow-${instance}@`)) fs.rmSync(path.join('/dev/shm', f), { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
    execa('userdel', [user], { reject: false });
  });

  // --ignore-scripts: pack the dist `npm run build` made; a build here would also pack whatever
  // anyone else has half-written in src/.
  const pack = await execa('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, reject: false });
  t.equal(pack.exitCode, 0, `npm pack: ${String(pack.stderr).split('\n').filter((l) => /ERR/.test(l)).join(' ')}`);
  const tgz = path.join(dir, String(pack.stdout).trim().split('\n').pop()!);
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  // npm 11 runs dependencies' install scripts only when the project allows them by name: faasflow's
  // native build (a tarball is named by its file: spec) and esbuild's binary check.
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, allowScripts: { [`file:${tgz}`]: true, esbuild: true, 'better-sqlite3': true } }));
  const install = await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=dev', tgz], { cwd: app, reject: false, timeout: 300_000 });
  t.equal(install.exitCode, 0, `npm install of the tarball: ${install.stderr}`);
  t.notMatch(String(install.stderr), /not yet covered by allowScripts/, 'every install script allowed');
  const bin = path.join(app, 'node_modules', 'faasflow', 'bin', 'run.js');
  t.ok(fs.existsSync(path.join(app, 'node_modules', 'faasflow', 'build', 'Release', 'faasflow-sandbox')), 'the native build ran');

  const port = await freePort();
  fs.writeFileSync(path.join(app, 'slow.ts'), SLOW);
  fs.writeFileSync(path.join(app, 'faasflow.config.mjs'), `export default { gateway: { port: ${port}, drainDelay: '1s', workers: 1 }, segment: { size: '64MiB' }, functions: [{ id: 1, name: 'slow', handler: './slow.ts' }] };\n`);
  execFileSync('useradd', ['-M', '-r', '-s', '/usr/sbin/nologin', user]);
  const home = path.join(dir, 'home');
  fs.mkdirSync(path.join(home, 'tmp'), { recursive: true });
  execFileSync('chown', ['-R', `${user}:${user}`, home]);

  const env = [`HOME=${home}`, `TMPDIR=${home}/tmp`, `FAASFLOW_RUNTIME_DIR=${home}/run`, `XDG_STATE_HOME=${home}/state`, 'NO_COLOR=1'];
  const proc = execa(
    'unshare',
    ['--pid', '--fork', '--mount-proc', '--kill-child', 'setpriv', '--reuid', user, '--regid', user, '--clear-groups', '--', 'env', '-u', 'NODE_OPTIONS', ...env, process.execPath, bin, 'up', '--foreground', '--log-format', 'json', '--instance', instance],
    { cwd: app, reject: false, stdin: 'ignore', timeout: 120_000 },
  );
  // Killing the namespace's PID 1 kills everything in it.
  t.teardown(async () => {
    for (const c of proc.pid && fs.existsSync(`/proc/${proc.pid}`) ? children(proc.pid) : []) process.kill(c, 'SIGKILL');
    proc.kill('SIGKILL');
    await proc;
  });
  await until(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false), 60_000, 'the instance to answer /healthz');
  const [pid1] = children(proc.pid!);
  t.equal(statusField(pid1, 'NSpid').pop(), '1', 'faasflow up is PID 1 in its namespace');
  t.not(statusField(pid1, 'Uid')[0], '0', 'and runs as the test user, not root');

  const load = startLoad(port, '/function/1', 8);
  t.teardown(() => load.stop());
  await until(() => (load.answeredBy().get('x'.repeat(512)) ?? 0) >= 100, 30_000, '100 answers');
  load.phase('term');
  process.kill(pid1, 'SIGTERM');
  const r = await proc;
  load.phase('exited');
  const outcomes = await load.stop();

  t.equal(r.exitCode, 0, `exit 0 after SIGTERM: ${String(r.stderr).slice(-500)}`);
  const before = outcomes.filter((o) => o.sentIn === 'start');
  t.same(before.filter((o) => o.status !== 200 || o.body !== 'x'.repeat(512)), [], `all ${before.length} requests sent before SIGTERM answered in full`);
  const after = outcomes.filter((o) => o.sentIn !== 'start');
  t.ok(after.some((o) => o.status === 200), 'it kept serving during its drain delay');
  // Later ones are refused, never run: a 503 "shutting down" (Retry-After, Connection: close) on a
  // connection it had, a refused or closed connection once its listener is gone.
  const refused = (o: { status: number; body: string }) => o.status === -1 || (o.status === 503 && o.body.includes('the gateway is shutting down'));
  t.same(after.filter((o) => o.status !== 200 && !refused(o)), [], 'no request it took was failed: later ones were refused, not run');

  // Every line on stdout is a JSON log line, the start's own included: a log collector reads it all.
  const parsed = String(r.stdout).split('\n').filter(Boolean).map((l) => {
    try {
      return JSON.parse(l) as Record<string, string>;
    } catch {
      return { notJson: l };
    }
  });
  t.same(parsed.filter((l) => !['t', 'log', 'who', 'msg'].every((k) => typeof l[k] === 'string')), [], 'every line on stdout is a JSON object {t, log, who, msg}');
  t.ok(parsed.some((l) => l.who === 'up' && l.msg.startsWith(`faasflow "${instance}" is up`)), 'the start says it is up, as a JSON line too');
  t.ok(parsed.some((l) => l.who.startsWith('supervisor') && l.msg === 'stopped'), 'the supervisor logged its stop');
  t.same(fs.readdirSync('/dev/shm').filter((f) => f.startsWith(`faasflow-${instance}`)), [], 'no segment left');
});
