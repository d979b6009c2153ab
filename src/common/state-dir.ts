// Where an instance keeps what must outlive a reboot: the functions `faasflow deploy` put in place
// (deployments.json and their bundles) and the secrets. The runtime directory (sockets, pids,
// logs) may sit on a tmpfs that a boot empties; this one is on disk, private to the user.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENV } from './env.js';

/** The name of every file and directory in an instance's state directory. */
export const STATE_FILES = {
  /** Functions deployed with `faasflow deploy`, kept across restarts and reboots. */
  deployments: 'deployments.json',
  /** Their bundled handlers (and, while the instance runs, the config's). */
  bundles: 'bundles',
  /** One file per secret (`faasflow secret create`), mode 0600. */
  secrets: 'secrets',
  /** The gateway's bearer tokens (`faasflow token create`): names and SHA-256 hashes, mode 0600. */
  tokens: 'tokens.json',
  /** The async queue (SQLite, WAL): accepted requests, their results, the dead letters. */
  queue: 'queue.db',
  /** The last slot of each of the config's schedules handed to the queue (so none fires twice). */
  schedules: 'schedules.json',
  /** The gateways' journals of accepted async requests, until the queue has them in its store. */
  journal: 'journal',
} as const;

export type StateFiles = { stateDir: string } & Record<keyof typeof STATE_FILES, string>;

/**
 * $FAASFLOW_STATE_DIR is the instance's state directory itself; otherwise
 * $XDG_STATE_HOME/faasflow/<instance>, /var/lib/faasflow/<instance> as root, or
 * ~/.local/state/faasflow/<instance> (the XDG default).
 */
export function stateDirFor(instance: string): string {
  const env = process.env[ENV.stateDir];
  if (env) return path.resolve(env);
  if (process.env.XDG_STATE_HOME) return path.join(path.resolve(process.env.XDG_STATE_HOME), 'faasflow', instance);
  if (process.getuid?.() === 0) return path.join('/var/lib/faasflow', instance);
  return path.join(homeDir(), '.local', 'state', 'faasflow', instance);
}

/**
 * $HOME, else the passwd entry's. A uid with neither (a Kubernetes runAsUser) has no durable place
 * of its own: its state goes below the temporary directory, where FAASFLOW_STATE_DIR can move it.
 */
function homeDir(): string {
  if (process.env.HOME) return process.env.HOME;
  try {
    return os.homedir();
  } catch {
    return path.join(os.tmpdir(), `faasflow-state-${process.getuid?.() ?? 0}`);
  }
}

export function stateFiles(dir: string): StateFiles {
  const at = Object.fromEntries(Object.entries(STATE_FILES).map(([k, name]) => [k, path.join(dir, name)])) as Record<keyof typeof STATE_FILES, string>;
  return { ...at, stateDir: dir };
}

/**
 * Makes the state directory (0700: secrets and handler sources are in it). One made by someone
 * else (a Kubernetes volume, owned by root) is left as it is.
 */
export function ensureStateDir(s: StateFiles): void {
  fs.mkdirSync(s.stateDir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(s.stateDir);
  if (st.uid === process.getuid?.() && (st.mode & 0o077) !== 0) fs.chmodSync(s.stateDir, 0o700);
}

/**
 * Before state directories, deployments.json and the bundles it names lived in the runtime
 * directory: moved here the first time, when this directory has none, with the bundle paths it
 * records rewritten. Returns whether anything was moved.
 */
export function migrateDeployments(runtimeDir: string, s: StateFiles): boolean {
  const old = path.join(runtimeDir, STATE_FILES.deployments);
  if (path.resolve(runtimeDir) === path.resolve(s.stateDir) || !fs.existsSync(old) || fs.existsSync(s.deployments)) return false;
  ensureStateDir(s);
  const oldBundles = path.join(runtimeDir, STATE_FILES.bundles);
  if (fs.existsSync(oldBundles)) {
    fs.mkdirSync(s.bundles, { recursive: true, mode: 0o700 });
    for (const b of fs.readdirSync(oldBundles)) moveAcross(path.join(oldBundles, b), path.join(s.bundles, b));
  }
  const text = fs.readFileSync(old, 'utf8').split(JSON.stringify(`${oldBundles}/`).slice(1, -1)).join(JSON.stringify(`${s.bundles}/`).slice(1, -1));
  const tmp = `${s.deployments}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, s.deployments);
  fs.rmSync(old, { force: true });
  return true;
}

/** rename(2), or a copy and removal where the two directories are on different file systems. */
function moveAcross(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    fs.cpSync(from, to, { recursive: true });
    fs.rmSync(from, { recursive: true, force: true });
  }
}
