// Where an instance keeps its files, every one named here: one directory per instance, private to
// the user, holding the control socket, the state file, the resolved config, the deployments and
// their bundles, the logs and the start lock.
import os from 'node:os';
import path from 'node:path';
import { ENV } from './env.js';
import { FaasflowError } from './errors.js';

/** Unix socket paths are limited to 108 bytes (sun_path); stay well clear of it. */
const MAX_SOCKET_PATH = 100;
const INSTANCE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;

export interface InstancePaths {
  instance: string;
  dir: string;
  /** The supervisor's control socket. */
  socket: string;
  /** What `ps`, `down` and the next `up` know when the supervisor is gone. */
  state: string;
  /** The validated config the processes run with. */
  config: string;
  /** Functions deployed with `faasflow deploy`, kept across restarts. */
  deployments: string;
  bundles: string;
  logs: string;
  /** Crash output of the supervisor itself. */
  supervisorErr: string;
  /** Held by the one `faasflow up` of the instance in progress. */
  lock: string;
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
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(process.env.XDG_RUNTIME_DIR || os.tmpdir(), `faasflow-${uid}`, instance);
}

export function instancePaths(instance: string, dir: string): InstancePaths {
  const socket = path.join(dir, 'control.sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new FaasflowError('USAGE', `runtime directory ${dir} is too long for a Unix socket path (${MAX_SOCKET_PATH} bytes max): set FAASFLOW_RUNTIME_DIR or runtimeDir to a shorter path`);
  }
  return {
    instance,
    dir,
    socket,
    state: path.join(dir, 'state.json'),
    config: path.join(dir, 'config.json'),
    deployments: path.join(dir, 'deployments.json'),
    bundles: path.join(dir, 'bundles'),
    logs: path.join(dir, 'logs'),
    supervisorErr: path.join(dir, 'logs', 'supervisor.stderr'),
    lock: path.join(dir, 'up.lock'),
  };
}

/** The log file (in the logs directory) of the supervisor, the gateways, or function `functionId`'s containers. */
export function logFileFor(role: 'supervisor' | 'gateway' | 'container', functionId = 0): string {
  return role === 'container' ? `fn-${functionId}.log` : `${role}.log`;
}

/** The files of an instance's logs: one function's, or all of them. */
export function isLogFile(name: string): boolean {
  return name.endsWith('.log');
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
