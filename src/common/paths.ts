// Where an instance keeps its files, every one named here: one runtime directory per instance,
// private to the user, holding the control socket, the state file, the resolved config, the logs
// and the start lock; and one state directory (state-dir.ts) for what outlives a reboot.
import os from 'node:os';
import path from 'node:path';
import { ENV } from './env.js';
import { FaasflowError } from './errors.js';
import { stateDirFor, stateFiles, type StateFiles } from './state-dir.js';

/** Unix socket paths are limited to 108 bytes (sun_path); stay well clear of it. */
const MAX_SOCKET_PATH = 100;
const INSTANCE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;

/** The name of every file and directory in an instance's runtime directory. */
export const RUNTIME_FILES = {
  /** The supervisor's control socket. */
  socket: 'control.sock',
  /**
   * A random secret the supervisor writes at start (0600): every control client sends it first.
   * No container can read it (the directory is another user's, or hidden by Landlock).
   */
  token: 'control.token',
  /** What `ps`, `down` and the next `up` know when the supervisor is gone. */
  state: 'state.json',
  /** The validated config the processes run with. */
  config: 'config.json',
  logs: 'logs',
  /** Held by the one `faasflow up` of the instance in progress. */
  lock: 'up.lock',
  /** The async queue process's socket (0600): gateways hand it requests, it hands them runs. */
  queueSocket: 'queue.sock',
} as const;

/** Every file of an instance's runtime directory, as a path. */
export type InstanceFiles = { dir: string; supervisorErr: string } & Record<keyof typeof RUNTIME_FILES, string>;

/** An instance's runtime files and its state directory's (deployments, bundles, secrets). */
export type InstancePaths = InstanceFiles & StateFiles & { instance: string };

/** The files in `dir`, for a reader that has the directory (`top --runtime-dir`) but no instance name. */
export function instanceFiles(dir: string): InstanceFiles {
  const at = Object.fromEntries(Object.entries(RUNTIME_FILES).map(([k, name]) => [k, path.join(dir, name)])) as Record<keyof typeof RUNTIME_FILES, string>;
  // Crash output of the supervisor itself, next to the logs it writes when it can.
  return { ...at, dir, supervisorErr: path.join(at.logs, 'supervisor.stderr') };
}

export function checkInstanceName(instance: string): string {
  if (!INSTANCE_RE.test(instance)) throw new FaasflowError('USAGE', `invalid instance name "${instance}": use 1-40 letters, digits, "_", "-" or "." starting with a letter or digit`);
  return instance;
}

/** $FAASFLOW_RUNTIME_DIR is the instance directory itself; otherwise <base>/faasflow-<uid>/<instance>. */
export function runtimeDirFor(instance: string, configuredBase?: string): string {
  const env = process.env[ENV.runtimeDir];
  if (env) return path.resolve(env);
  if (configuredBase) return path.resolve(configuredBase, instance);
  return path.join(userBase(), instance);
}

/** The user's own directory of instances when neither the environment nor a config says where. */
function userBase(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(process.env.XDG_RUNTIME_DIR || os.tmpdir(), `faasflow-${uid}`);
}

/**
 * A symlink to the runtime directory `faasflow up` last used for `instance`, wherever its config
 * put it: the other commands find the instance without evaluating the config. ("@" is in no
 * instance name, so it never names an instance's own directory.)
 */
export function locationLinkFor(instance: string): string {
  return path.join(userBase(), `${instance}@`);
}

export function instancePaths(instance: string, dir: string, stateDir = stateDirFor(instance)): InstancePaths {
  const files = instanceFiles(dir);
  if (Buffer.byteLength(files.socket) > MAX_SOCKET_PATH) {
    throw new FaasflowError('USAGE', `runtime directory ${dir} is too long for a Unix socket path (${MAX_SOCKET_PATH} bytes max): set FAASFLOW_RUNTIME_DIR or runtimeDir to a shorter path`);
  }
  return { instance, ...files, ...stateFiles(stateDir) };
}

/** Where POSIX shared memory is on Linux: shm_open("/x") is the file /dev/shm/x. */
export const SHM_DIR = '/dev/shm';
/** Every faasflow segment is named /faasflow-<instance>[@<domain>], so `shm ls` and cleanup can find them. */
export const SEGMENT_PREFIX = 'faasflow-';
/** '@' is in neither instance nor domain names, so a domain segment's name is never another instance's. */
export const DOMAIN_SEPARATOR = '@';

/** An instance's runtime segment (process table, stats): /faasflow-<instance>. */
export function segmentName(instance: string): string {
  return `/${SEGMENT_PREFIX}${instance}`;
}

/** A security domain's packet segment: /faasflow-<instance>@<domain>. */
export function domainSegmentName(instance: string, domain: string): string {
  return `/${SEGMENT_PREFIX}${instance}${DOMAIN_SEPARATOR}${domain}`;
}

/** The instance a segment name belongs to (the part before a domain separator). */
export function instanceOfSegment(name: string): string {
  return name.replace(/^\//, '').slice(SEGMENT_PREFIX.length).split(DOMAIN_SEPARATOR)[0];
}

/** A segment's file: '/faasflow-x' → '/dev/shm/faasflow-x'. */
export function segmentPath(name: string): string {
  return `${SHM_DIR}${name.startsWith('/') ? name : `/${name}`}`;
}

/** The log file (in the logs directory) of the supervisor, the gateways, or function `functionId`'s containers. */
export function logFileFor(role: 'supervisor' | 'gateway' | 'container' | 'queue', functionId = 0): string {
  return role === 'container' ? `fn-${functionId}.log` : `${role}.log`;
}

/** Whether `name` (in the logs directory) is a live log file, not a rotated one. */
export function isLogFile(name: string): boolean {
  return name.endsWith('.log');
}

/** The `n`th rotated file of a log (logrotate's scheme: fn-1.log → fn-1.log.1 → fn-1.log.2). */
export function rotatedLogFile(file: string, n = 1): string {
  return `${file}.${n}`;
}

/** A function version's bundle directory, and its module's name as a sandboxed container is told it. */
export function bundleDirFor(p: InstancePaths, functionId: number, deployment: number): string {
  return path.join(p.bundles, `fn${functionId}-d${deployment}`);
}

export function handlerModuleName(functionId: number, deployment: number): string {
  return `fn${functionId}-d${deployment}.mjs`;
}

/** Where `faasflow deploy` builds a handler before the supervisor takes it: unique per deploy. */
export function deployBundleDir(p: InstancePaths, functionId: number): string {
  return path.join(p.bundles, `fn${functionId}-${Date.now().toString(36)}-${process.pid}`);
}
