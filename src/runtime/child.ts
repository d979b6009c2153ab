// What every child process of the supervisor does the same way: report readiness or failure to the
// supervisor (a gateway over Node's IPC channel, a container over its own channel), exit when the
// supervisor is gone (no orphan outlives it), and turn SIGTERM, SIGINT and a 'drain' message into
// one graceful shutdown.
import type { ChildMessage, ContainerMessage, SupervisorMessage } from './protocol.js';
import { sys } from '../sys/binding.js';
import { DEFAULT_SPIN_MICROS, ENV } from '../common/env.js';
import { openSupervisorChannel } from './container/supervisor.js';
import { oneLine } from './supervisor/container-messages.js';

/**
 * A container's channel to the supervisor; undefined in a gateway. A container has no Node IPC
 * channel (`process.send` is undefined there): bytes its handler wrote to one would be parsed by
 * Node inside the supervisor.
 */
export const supervisor = openSupervisorChannel((m) => log('warn', m));

/** Pins this process to the CPUs the config names (FAASFLOW_CPUS), before it does any work. */
/**
 * Makes this child the leader of its own process group (in the supervisor's session), so what
 * its handler starts can be killed with it: the supervisor kills the group when the child exits.
 */
export function ownProcessGroup(): void {
  try {
    sys.ownProcessGroup();
  } catch (err) {
    log('warn', `cannot start a process group: ${(err as Error).message}; processes a handler starts may outlive this one`);
  }
}

export function applyAffinity(): void {
  const spec = process.env[ENV.cpus];
  if (!spec) return;
  try {
    sys.setAffinity(spec.split(',').map(Number));
  } catch (err) {
    log('warn', `cannot pin to CPUs ${spec}: ${(err as Error).message}; running unpinned`);
  }
}

/** The config's `spinMicros` as the supervisor passed it down (spin.ts). */
export function spinMicros(): number {
  const v = Number(process.env[ENV.spinMicros] ?? DEFAULT_SPIN_MICROS);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_SPIN_MICROS;
}

export function send(msg: ChildMessage): void {
  if (supervisor) supervisor.send(msg as ContainerMessage);
  else if (process.send && process.connected) process.send(msg);
}

/** Tells the supervisor this process hears its messages now (links and handlers may be sent). */
export function reportListening(): void {
  send({ type: 'listening', pid: process.pid });
}

/** A gateway says the port it listens on; a container, the isolation its launcher applied. */
export function reportReady(port?: number): void {
  const sandbox = process.env[ENV.sandbox];
  if (port !== undefined) send({ type: 'ready', pid: process.pid, port });
  else send({ type: 'ready', pid: process.pid, ...(sandbox ? { sandbox } : {}) });
}

/** Asks the supervisor for a graceful replacement of this process (once). */
let replaceAsked = false;
export function requestReplacement(reason: string): void {
  if (replaceAsked) return;
  replaceAsked = true;
  log('warn', `asking the supervisor to replace this replica: ${reason}`);
  send({ type: 'replace-me', pid: process.pid, reason: oneLine(reason) });
}

export function reportFailed(message: string): void {
  send({ type: 'failed', pid: process.pid, message: oneLine(message) });
}

export function log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
  const line = JSON.stringify({ t: new Date().toISOString(), level, pid: process.pid, msg: message, ...fields });
  if (level === 'info') process.stdout.write(line + '\n');
  else process.stderr.write(line + '\n');
}

/**
 * Calls `drain` once on SIGTERM, SIGINT, a 'drain' message or the loss of the supervisor, then
 * exits with its result code. A second signal, or `graceMs` passing, exits at once.
 */
export function onShutdown(drain: (reason: string) => Promise<void>, graceMs: number): void {
  let draining = false;
  const start = (reason: string) => {
    if (draining) {
      if (reason === 'SIGINT' || reason === 'SIGTERM') process.exit(0);
      return;
    }
    draining = true;
    const timer = setTimeout(() => {
      log('warn', `shutdown grace of ${graceMs} ms passed; exiting with work still in flight`);
      process.exit(0);
    }, graceMs);
    timer.unref();
    drain(reason).then(
      () => process.exit(0),
      (err: unknown) => {
        log('error', `shutdown failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => start('SIGTERM'));
  process.on('SIGINT', () => start('SIGINT'));
  // The supervisor's end of the channel closes when it dies, even by SIGKILL.
  if (supervisor) {
    supervisor.on('drain', () => start('drain'));
    supervisor.onEnd(() => start('supervisor gone'));
    return;
  }
  process.on('message', (m: SupervisorMessage) => {
    if (m && m.type === 'drain') start('drain');
  });
  process.on('disconnect', () => start('supervisor gone'));
}

export function requireEnv(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') {
    reportFailed(`missing environment variable ${name}`);
    process.stderr.write(`faasflow: missing environment variable ${name}\n`);
    process.exit(100);
  }
  return v;
}
