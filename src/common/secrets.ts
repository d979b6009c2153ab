// The instance's secrets: one file per secret in <state>/secrets, mode 0600, written atomically.
// Only the supervisor's user reads them; a function gets a copy of the ones it names
// (functions[].secrets) in a directory only its domain can read (runtime/supervisor/secrets.ts).
import fs from 'node:fs';
import path from 'node:path';
import { FaasflowError } from './errors.js';

/** Like a DNS label (and a Kubernetes Secret's name): lower-case letters, digits and "-". */
export const SECRET_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const SECRET_NAME_RULE = 'must be 1-63 lower-case letters, digits or "-", starting and ending with a letter or digit';
/** Largest secret value (Kubernetes allows 1 MiB; a secret is a password, key or certificate). */
export const MAX_SECRET_BYTES = 64 * 1024;

export interface SecretInfo {
  name: string;
  bytes: number;
  /** Last written, ISO 8601. */
  updated: string;
}

export function checkSecretName(name: string): string {
  if (!SECRET_NAME_RE.test(name)) throw new FaasflowError('USAGE', `invalid secret name "${name}": a secret name ${SECRET_NAME_RULE} (e.g. db-password)`);
  return name;
}

function checkValue(name: string, value: Uint8Array): void {
  if (value.length > MAX_SECRET_BYTES) throw new FaasflowError('USAGE', `secret ${name} is ${value.length} bytes: a secret holds at most ${MAX_SECRET_BYTES} bytes (64 KiB)`);
}

/** Writes `value` as `file` with `mode`, atomically: a reader sees the old value or the new one. */
export function writeFileAtomic(file: string, value: Uint8Array, mode: number, owner?: { uid: number; gid: number }): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
  try {
    fs.writeSync(fd, value);
    if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
    fs.fchmodSync(fd, mode);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Creates or replaces secret `name`. Returns whether it replaced one. */
export function writeSecret(dir: string, name: string, value: Uint8Array): boolean {
  checkSecretName(name);
  checkValue(name, value);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existed = fs.existsSync(path.join(dir, name));
  writeFileAtomic(path.join(dir, name), value, 0o600);
  return existed;
}

/** The value of secret `name`, or undefined when there is none. */
export function readSecret(dir: string, name: string): Buffer | undefined {
  checkSecretName(name);
  try {
    return fs.readFileSync(path.join(dir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Every secret, by name (files whose names are not secret names, such as a write in progress or a
 * Kubernetes volume's `..data`, are not secrets). Values are never read.
 */
export function listSecrets(dir: string): SecretInfo[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: SecretInfo[] = [];
  for (const name of names.filter((n) => SECRET_NAME_RE.test(n)).sort()) {
    try {
      const st = fs.statSync(path.join(dir, name));
      if (st.isFile()) out.push({ name, bytes: st.size, updated: st.mtime.toISOString() });
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

/** Removes secret `name`; false when there was none. */
export function removeSecret(dir: string, name: string): boolean {
  checkSecretName(name);
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) return false;
  fs.rmSync(file);
  return true;
}

/** The names among `wanted` that have no secret in `dir`. */
export function missingSecrets(dir: string, wanted: Iterable<string>): string[] {
  return [...new Set(wanted)].filter((n) => !fs.existsSync(path.join(dir, n)));
}

/** The error for functions naming secrets that do not exist: which, and how to make them. */
export function missingSecretsError(missing: { fn: string; secret: string }[]): FaasflowError {
  const list = missing.map((m) => `function ${m.fn} needs secret ${m.secret}`).join('; ');
  const names = [...new Set(missing.map((m) => m.secret))];
  return new FaasflowError('CONFIG', `${list}, which does not exist: create it with ${names.map((n) => `\`faasflow secret create ${n}\``).join(', ')} (the value on standard input or --from-file)`);
}

/** Every (function, secret) pair of `fns` whose secret is missing from `dir`. */
export function secretsMissingFor(dir: string, fns: Iterable<{ id: number; name?: string; secrets?: readonly string[] }>): { fn: string; secret: string }[] {
  const out: { fn: string; secret: string }[] = [];
  for (const f of fns) for (const s of missingSecrets(dir, f.secrets ?? [])) out.push({ fn: `${f.id} (${f.name ?? '?'})`, secret: s });
  return out;
}
