// What the sandbox launcher (native/sandbox.c) is asked to do for one container, and what it
// reports back. Pure: the supervisor decides the policy (domains.ts), this turns it into arguments.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_DIR, sys } from './binding.js';

export const SANDBOX_BINARY = path.join(PACKAGE_DIR, 'build', 'Release', 'faasflow-sandbox');

export interface SandboxPolicy {
  /** Run as this uid/gid (only when the supervisor is root). */
  uid?: number;
  gid?: number;
  /** Landlock: what the container may read, read and execute, and write. */
  landlock?: { ro: string[]; rx: string[]; rw: string[] };
  /** cgroup directories to join (memory, pids; v1 or v2). */
  cgroups: string[];
  /** Fallback bounds where no cgroup could be made: RLIMIT_NPROC and RLIMIT_DATA. */
  nproc?: number;
  dataBytes?: number;
}

/** The launcher's arguments for `policy`, ending in `--` (the program and its arguments follow). */
export function sandboxArgs(p: SandboxPolicy): string[] {
  const out = ['--pgid'];
  for (const c of p.cgroups) out.push('--cgroup', c);
  if (p.nproc !== undefined) out.push('--nproc', String(p.nproc));
  if (p.dataBytes !== undefined) out.push('--data', String(p.dataBytes));
  if (p.uid !== undefined && p.gid !== undefined) out.push('--gid', String(p.gid), '--uid', String(p.uid));
  if (p.landlock) {
    out.push('--landlock');
    for (const x of p.landlock.rx) out.push('--rx', x);
    for (const x of p.landlock.ro) out.push('--ro', x);
    for (const x of p.landlock.rw) out.push('--rw', x);
  }
  out.push('--');
  return out;
}

/** The isolation a container runs under, from the launcher's FAASFLOW_SANDBOX ("uid,landlock:7", "none"). */
export interface Enforcement {
  uid: boolean;
  landlock: number;
}

export function parseEnforcement(text: string | undefined): Enforcement {
  const parts = (text ?? 'none').split(',');
  const ll = parts.find((p) => p.startsWith('landlock:'));
  return { uid: parts.includes('uid'), landlock: ll ? Number(ll.slice('landlock:'.length)) || 0 : 0 };
}

/** How `ps`, `top` and `up` name an enforcement: `uid+landlock`, `landlock`, `uid` or `none`. */
export function enforcementName(e: Enforcement): string {
  return [e.uid ? 'uid' : '', e.landlock > 0 ? 'landlock' : ''].filter(Boolean).join('+') || 'none';
}

/** What this machine and this process can enforce, before any container is started. */
export function availableEnforcement(): Enforcement {
  return { uid: process.getuid?.() === 0, landlock: sys.landlockAbi() };
}

/** The launcher exists and is executable (a build without it can only run unsandboxed). */
export function sandboxAvailable(): boolean {
  try {
    fs.accessSync(SANDBOX_BINARY, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Other users may search `dir` and every directory above it: a path into it is one they can follow. */
export function othersCanSearch(dir: string): boolean {
  try {
    for (let d = dir; ; d = path.dirname(d)) {
      if ((fs.statSync(d).mode & 0o001) === 0) return false;
      if (path.dirname(d) === d) return true;
    }
  } catch {
    return false;
  }
}

/**
 * Where domains' temporary directories go: the system's temporary directory ($TMPDIR), unless
 * other users cannot reach it. A domain with a user of its own could not reach its directory
 * there, and each of its containers would fail at start; /tmp is made for every user.
 */
function tmpBase(): string {
  const tmp = os.tmpdir();
  return othersCanSearch(tmp) ? tmp : '/tmp';
}

/** A domain's private temporary directory (its handlers' TMPDIR: /tmp itself is outside the sandbox). */
export function sandboxTmpDir(instance: string, domain: string): string {
  return path.join(tmpBase(), `faasflow-${instance}@${domain}`);
}

/**
 * A domain's copy of its functions' secrets, next to its temporary directory (where its user can
 * reach it) but outside it: the sandbox lets the domain read this one, not write it. Domain names
 * have no ".", so this never names another domain's temporary directory.
 */
export function sandboxSecretsDir(instance: string, domain: string): string {
  return `${sandboxTmpDir(instance, domain)}.secrets`;
}

/** Removes every domain temporary and secrets directory of `instance` (after its containers are gone). Returns them. */
export function removeSandboxTmpDirs(instance: string): string[] {
  const prefix = `faasflow-${instance}@`;
  const base = tmpBase();
  let names: string[];
  try {
    names = fs.readdirSync(base).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
  for (const n of names) fs.rmSync(path.join(base, n), { recursive: true, force: true });
  return names.map((n) => path.join(base, n));
}
