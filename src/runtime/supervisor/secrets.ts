// A domain's secrets: copies of the ones its functions name (functions[].secrets), in a directory
// of its own that only it can read. As root the directory (0500) and the files (0400) are the
// domain's user's, so no other domain's uid can open them; and the Landlock sandbox lets a
// container read that one directory of secrets, no other, and not the state directory at all.
import fs from 'node:fs';
import path from 'node:path';
import { readSecret, writeFileAtomic } from '../../common/secrets.js';

export interface SecretsOwner {
  secretsDir: string;
  uid?: number;
  gid?: number;
}

const ownerOf = (d: SecretsOwner) => (d.uid !== undefined && d.gid !== undefined ? { uid: d.uid, gid: d.gid } : undefined);

/**
 * Removes a domain's secrets directory. It is 0500 while it serves, and removing a file needs
 * write access to its directory even for its owner: an unprivileged supervisor (which owns it)
 * makes it writable first. Root needs no permission and any uid's directory gives way.
 */
export function removeSecretsDir(dir: string): void {
  try {
    fs.chmodSync(dir, 0o700);
  } catch {
    // not there (nothing to remove), or another user's (root removes it regardless)
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A fresh, empty secrets directory for a domain (whatever was there before is removed). */
export function makeSecretsDir(d: SecretsOwner): void {
  removeSecretsDir(d.secretsDir);
  fs.mkdirSync(d.secretsDir, { mode: 0o500 });
  const owner = ownerOf(d);
  if (owner) fs.chownSync(d.secretsDir, owner.uid, owner.gid);
}

/**
 * Copies secrets `names` from the instance's store `from` into the domain's directory (each
 * atomically, so a running replica reads the old value or the new one). Returns the names that
 * have no secret (deleted since the start or the deploy checked).
 */
export function giveSecrets(from: string, d: SecretsOwner, names: readonly string[]): string[] {
  if (names.length === 0) return [];
  const missing: string[] = [];
  // Writable for the copy only; as an unprivileged supervisor this user owns the directory.
  fs.chmodSync(d.secretsDir, 0o700);
  try {
    for (const name of names) {
      const value = readSecret(from, name);
      if (value) writeFileAtomic(path.join(d.secretsDir, name), value, 0o400, ownerOf(d));
      else missing.push(name);
    }
  } finally {
    fs.chmodSync(d.secretsDir, 0o500);
  }
  return missing;
}
