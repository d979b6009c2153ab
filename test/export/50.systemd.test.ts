// `faasflow startup`: the unit it writes passes `systemd-analyze verify` (systemd's own parser:
// unknown keys, bad values and a missing executable are reported), runs `up --foreground` on the
// config's absolute path with a stop timeout covering the longest flow, and --user writes, enables
// (the wants link) and --remove removes it. There is no systemd as PID 1 here: enabling is the link
// `systemctl enable` would make.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { BIN } from '../cli/helpers.js';

const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((f) => fs.existsSync(f));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-systemd-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(path.join(dir, 'echo.ts'), 'export default async function (input: Uint8Array) { return input; }\n');
fs.writeFileSync(path.join(dir, 'faasflow.config.ts'), "export default { functions: [{ id: 1, handler: './echo.ts', timeout: '20s' }], flows: [{ name: 'slow', steps: ['echo'], timeout: '3m' }] };\n");

const cli = async (args: string[]) => {
  const r = await execa('env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args, '--instance', 'sdtest'], { cwd: dir, env: { XDG_CONFIG_HOME: path.join(dir, 'xdg'), NO_COLOR: '1' }, reject: false, stdin: 'ignore' });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
};

async function verify(t: Test, text: string): Promise<void> {
  const unitDir = fs.mkdtempSync(path.join(dir, 'verify-'));
  const file = path.join(unitDir, 'faasflow-sdtest.service');
  fs.writeFileSync(file, text);
  const r = await execa(analyze!, ['verify', file], { reject: false });
  t.equal(r.exitCode, 0, `systemd-analyze verify: ${r.stderr}`);
  t.equal(String(r.stderr).trim(), '', 'and it warns about nothing (an unknown key or a bad value is only a warning)');
}

t.test('startup --print: a unit systemd accepts', { skip: analyze ? false : 'needs systemd-analyze (Debian package systemd)' }, async (t) => {
  const r = await cli(['startup', '--print']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^ExecStart=${process.execPath} ${BIN} up --foreground --instance sdtest --config ${dir}/faasflow.config.ts$`, 'm'), 'runs up --foreground on the absolute config path');
  t.match(r.stdout, /^KillMode=mixed$/m, 'only faasflow up gets the SIGTERM: it drains in order');
  // drain 0 + the 3-minute flow + the containers' stop (max(10 s, 20 s + 1 s)) + 10 s
  t.match(r.stdout, /^TimeoutStopSec=211$/m, 'the stop timeout covers the longest flow and the containers');
  t.match(r.stdout, /^Restart=on-failure$/m);
  t.match(r.stdout, /^WantedBy=multi-user\.target$/m);
  await verify(t, r.stdout);
  const broken = r.stdout.replace('KillMode=mixed', 'KillMode=mixd');
  const unitDir = fs.mkdtempSync(path.join(dir, 'broken-'));
  fs.writeFileSync(path.join(unitDir, 'faasflow-sdtest.service'), broken);
  const bad = await execa(analyze!, ['verify', path.join(unitDir, 'faasflow-sdtest.service')], { reject: false });
  t.match(String(bad.stderr), /kill mode/, 'the check sees a bad value (it can fail)');
});

t.test('startup --user writes and enables a user unit; --remove undoes it', { skip: analyze ? false : 'needs systemd-analyze (Debian package systemd)' }, async (t) => {
  const r = await cli(['startup', '--user', '--json']);
  t.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { unit: string; path: string; action: string };
  const unitFile = path.join(dir, 'xdg', 'systemd', 'user', 'faasflow-sdtest.service');
  t.same([res.unit, res.path, res.action], ['faasflow-sdtest.service', unitFile, 'enabled']);
  const text = fs.readFileSync(unitFile, 'utf8');
  t.match(text, /^WantedBy=default\.target$/m, 'a user unit is wanted by default.target');
  const link = path.join(dir, 'xdg', 'systemd', 'user', 'default.target.wants', 'faasflow-sdtest.service');
  t.equal(fs.readlinkSync(link), unitFile, 'enabled: the wants link points at the unit');
  await verify(t, text);
  const removed = await cli(['startup', '--user', '--remove']);
  t.equal(removed.code, 0, removed.stderr);
  t.notOk(fs.existsSync(unitFile), 'the unit is gone');
  t.notOk(fs.existsSync(link), 'and its link');
});

t.test('without a config file there is nothing to start', async (t) => {
  const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
  const r = await execa('env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, 'startup', '--print'], { cwd: empty, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
  t.equal(r.exitCode, 1);
  t.match(String(r.stderr), /no faasflow\.config\.ts here: a unit runs a config file/);
});
