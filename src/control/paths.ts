// Where an instance keeps its control files: one directory per instance, private to the user.
import os from 'node:os';
import path from 'node:path';
import { FaasflowError } from './errors.js';

/** Unix socket paths are limited to 108 bytes (sun_path); stay well clear of it. */
const MAX_SOCKET_PATH = 100;
const INSTANCE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;

export interface InstancePaths {
  instance: string;
  dir: string;
  socket: string;
  state: string;
  config: string;
  deployments: string;
  bundles: string;
  logs: string;
  supervisorErr: string;
}

export function checkInstanceName(instance: string): string {
  if (!INSTANCE_RE.test(instance)) throw new FaasflowError('USAGE', `invalid instance name "${instance}": use 1-40 letters, digits, "_", "-" or "." starting with a letter or digit`);
  return instance;
}

/** $FAASFLOW_RUNTIME_DIR is the instance directory itself; otherwise <base>/faasflow-<uid>/<instance>. */
export function runtimeDirFor(instance: string, configuredBase?: string): string {
  const env = process.env.FAASFLOW_RUNTIME_DIR;
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
  };
}
