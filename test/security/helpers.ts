// A real instance for the security tests, run by root or by an unprivileged user the test makes:
// the real `faasflow` binary, a project directory and a runtime directory that user owns, and
// teardown that stops it (and anything of it left) whatever happened.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa, execaSync } from 'execa';
import type { Test } from 'tap';
import { ROOT } from '../helpers/runtime.js';
import { freePort } from '../cli/helpers.js';

const BIN = path.join(ROOT, 'bin', 'run.js');

export interface User {
  name: string;
  uid: number;
  gid: number;
}

export interface Instance {
  name: string;
  dir: string;
  runtimeDir: string;
  /** Its state directory (deployments, secrets): FAASFLOW_STATE_DIR, inside `dir`. */
  stateDir: string;
  port: number;
  /** Runs `faasflow <args>` (with `--instance <name>` unless `instance` is false) as the instance's user. */
  cli(args: string[], json?: boolean, instance?: boolean): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Whether a user with no relation to `dir` can read it (every directory up to / searchable). */
export function othersCanRead(dir: string): boolean {
  if ((fs.statSync(dir).mode & 0o005) !== 0o005) return false;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false;
    if (path.dirname(d) === d) return true;
  }
}

/** An unprivileged user for the test (created once per run, reused after). */
export function testUser(): User {
  const name = 'ffsectest';
  const lookup = () => {
    const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { name, uid: Number(uid), gid: Number(gid) };
  };
  const found = lookup();
  if (found) return found;
  execaSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  return lookup()!;
}

export async function startInstance(t: Test, config: (port: number) => string, files: Record<string, string>, user?: User): Promise<Instance> {
  const name = `sec${randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-sec-'));
  const runtimeDir = path.join(dir, 'rt');
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(runtimeDir, { mode: 0o700 });
  const port = await freePort();
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  fs.writeFileSync(path.join(dir, 'faasflow.config.ts'), config(port));
  if (user) execaSync('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
  // The CLI runs as a user runs it: as that user, without the test runner's node hooks (which
  // the test runner adds to whatever it spawns: `env -u` drops them on the way).
  const node = ['env', '-u', 'NODE_OPTIONS', process.execPath, BIN];
  const run = (args: string[]) => (user ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', ...node, ...args] : [...node, ...args]);
  const inst: Instance = {
    name,
    dir,
    runtimeDir,
    stateDir,
    port,
    async cli(args, json, instance = true) {
      const [file, ...rest] = run([...args, ...(instance ? ['--instance', name] : []), ...(json ? ['--json'] : [])]);
      const r = await execa(file, rest, { cwd: dir, env: { FAASFLOW_RUNTIME_DIR: runtimeDir, FAASFLOW_STATE_DIR: stateDir, NO_COLOR: '1', HOME: dir }, reject: false, stdin: 'ignore', timeout: 120_000 });
      return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
  };
  t.teardown(async () => {
    await inst.cli(['down', '--clean-shm']);
    // Anything of this instance still alive (the test failed half way): its runtime dir is in its environment.
    for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        if (fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`FAASFLOW_RUNTIME_DIR=${runtimeDir}\0`)) process.kill(Number(p), 'SIGKILL');
      } catch {
        // gone, or not ours
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    removeLinksInto(dir);
  });
  return inst;
}

/** The location links `up` left (in /tmp/faasflow-<uid>, for whichever user ran it) that lead into `dir`. */
function removeLinksInto(dir: string): void {
  for (const d of fs.readdirSync(os.tmpdir()).filter((n) => /^faasflow-\d+$/.test(n))) {
    const linkDir = path.join(os.tmpdir(), d);
    for (const name of fs.readdirSync(linkDir).filter((n) => n.endsWith('@'))) {
      try {
        if (fs.readlinkSync(path.join(linkDir, name)).startsWith(`${dir}/`)) fs.rmSync(path.join(linkDir, name), { force: true });
      } catch {
        // not a link, or gone
      }
    }
  }
}
