// Commands under a uid that has no passwd entry and an environment without SHELL or HOME, as
// Kubernetes' runAsUser and OpenShift's random uids run them: up, invoke, ps, down all work (oclif
// used to ask the passwd database for the shell and fail with uv_os_get_passwd before any command).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { BIN, ECHO, ROOT, configText, freePort } from './helpers.js';
import { othersCanRead } from '../security/helpers.js';

/** A uid and gid no account has: checked against /etc/passwd and /etc/group. */
function unknownId(): number {
  const taken = new Set(
    ['/etc/passwd', '/etc/group'].flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').map((l) => Number(l.split(':')[2]))),
  );
  let id = 54321;
  while (taken.has(id)) id++;
  return id;
}

const skip = process.getuid?.() !== 0 ? 'needs root to run as another uid' : !othersCanRead(ROOT) ? `${ROOT} is not readable by other users` : false;

t.test('a uid without a passwd entry, no SHELL, no HOME: up, invoke, ps, down', { skip }, async (t) => {
  const id = unknownId();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-nopasswd-'));
  const instance = `nopw${process.pid}`;
  const runtimeDir = path.join(dir, 'rt');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'echo.ts'), ECHO);
  fs.writeFileSync(path.join(dir, 'faasflow.config.ts'), configText(port, "[{ id: 1, handler: './echo.ts' }]"));
  fs.chownSync(dir, id, id);
  for (const f of fs.readdirSync(dir)) fs.chownSync(path.join(dir, f), id, id);
  const cli = async (args: string[], input?: string) => {
    // The test runner's node hooks (NODE_OPTIONS) stay out, as for any user's shell.
    const r = await execa('setpriv', [`--reuid=${id}`, `--regid=${id}`, '--clear-groups', '--', 'env', '-u', 'NODE_OPTIONS', process.execPath, BIN, ...args, '--instance', instance], {
      cwd: dir,
      // Exactly what such a pod has: no SHELL, no HOME, no USER.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', FAASFLOW_RUNTIME_DIR: runtimeDir, NO_COLOR: '1', ...(process.env.FAASFLOW_TEST_RUN ? { FAASFLOW_TEST_RUN: process.env.FAASFLOW_TEST_RUN } : {}) },
      extendEnv: false,
      reject: false,
      timeout: 120_000,
      ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
    });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  t.teardown(async () => {
    await cli(['down', '--clean-shm']);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(os.tmpdir(), `faasflow-${id}`), { recursive: true, force: true });
  });
  const ps = await cli(['ps']);
  t.notMatch(ps.stderr, /uv_os_get_passwd|uv_os_homedir/, 'no passwd lookup fails');
  t.match(ps.stderr, /is not running/, 'ps answers');
  const up = await cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);
  const hi = await cli(['invoke', '1', '--data', 'hi']);
  t.equal(hi.stdout, 'hi', `invoke: ${hi.stderr}`);
  const running = await cli(['ps', '--json']);
  t.equal(running.code, 0, running.stderr);
  t.ok((JSON.parse(running.stdout) as { children: unknown[] }).children.length >= 2, 'ps lists the processes');
  const down = await cli(['down']);
  t.equal(down.code, 0, `down: ${down.stderr}`);
  t.match(down.stdout, /stopped/);
});
