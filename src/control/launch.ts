// Starting a supervisor for `faasflow up`: in its own session and process group (so a terminal's
// Ctrl-C or hang-up reaches only what we forward),
// detached unless --foreground, then following its lifecycle events over the control socket.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig } from '../config/types.js';
import { ENV } from '../common/env.js';
import { controlRequest } from './client.js';
import { FaasflowError } from '../common/errors.js';
import { logFileFor, type InstancePaths } from '../common/paths.js';
import type { SupervisorEvent } from '../common/protocol.js';
import { writeJsonAtomic } from '../common/state.js';

const SUPERVISOR_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'runtime', 'supervisor', 'main.js');

export function launchSupervisor(cfg: ResolvedConfig, p: InstancePaths, foreground: boolean, logFormat: 'text' | 'json' = 'text'): ChildProcess {
  fs.mkdirSync(p.logs, { recursive: true, mode: 0o700 });
  fs.chmodSync(p.dir, 0o700);
  writeJsonAtomic(p.config, cfg);
  const err = fs.openSync(p.supervisorErr, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [SUPERVISOR_MAIN], {
      detached: true,
      stdio: ['ignore', foreground ? 'inherit' : 'ignore', foreground ? 'inherit' : err],
      env: { ...process.env, [ENV.config]: p.config, [ENV.foreground]: foreground ? '1' : '0', [ENV.logFormat]: logFormat },
    });
    if (!foreground) child.unref();
    return child;
  } finally {
    fs.closeSync(err);
  }
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A supervisor that failed fast may exit before we connect; its log has the failed step. */
function lastFailure(p: InstancePaths): string | undefined {
  const lines = tail(path.join(p.logs, logFileFor('supervisor')), 50).split('\n');
  const failed = lines.reverse().find((l) => / \[[a-z]+\] failed /.test(l));
  return failed?.slice(failed.indexOf('] failed ') + '] failed '.length);
}

/** The supervisor's exit, as a promise (resolves at once if it already exited). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  // A detached supervisor is unref'd; whoever waits for it must keep the event loop alive.
  child.ref();
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * Streams the supervisor's events until startup ends ('running' or 'fatal'). If the supervisor
 * dies before its control socket exists, its stderr says why.
 */
export async function followStartup(child: ChildProcess, p: InstancePaths, onEvent: (e: SupervisorEvent) => void): Promise<SupervisorEvent> {
  const gone = new Promise<number | null>((resolve) => child.once('exit', resolve)).then((code) => {
    throw new FaasflowError('START_FAILED', lastFailure(p) ?? `the supervisor exited (code ${code}) before it could report: ${tail(p.supervisorErr, 5) || 'no output'}`);
  });
  gone.catch(() => undefined); // raced below; never an unhandled rejection
  const socket = (async () => {
    for (let i = 0; !fs.existsSync(p.socket); i++) {
      if (i > 600) throw new FaasflowError('TIMEOUT', `the supervisor did not open ${p.socket} within 30 s; see ${p.supervisorErr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await Promise.race([socket, gone]);
  const events = controlRequest<SupervisorEvent>(p, { cmd: 'events' }, { onEvent, until: (e) => e.kind === 'running' || e.kind === 'fatal' || e.kind === 'stopped' });
  let last: SupervisorEvent;
  try {
    last = await Promise.race([events, gone]);
  } catch (err) {
    // A connection broken by a supervisor that is exiting: its own account of why is better.
    throw await Promise.race([gone.catch((e: unknown) => e), new Promise((r) => setTimeout(() => r(err), 3000))]);
  }
  return last;
}
