// Starting and stopping the harness's own child processes (reference servers, load generator).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of a compiled module next to this one, e.g. distFile('servers/hop.js'). */
export const distFile = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));

/** The package root (where bin/run.js lives): dist/bench/ is two levels below it. */
export const packageRoot = (): string => fileURLToPath(new URL('../../', import.meta.url));

export interface Ready {
  child: ChildProcess;
  port: number;
  /** Further processes it started and reported (a cluster's workers). */
  pids: number[];
}

/** Forks `file` and resolves once it sends {type:'ready'}; rejects (and kills it) otherwise. */
export function forkReady(file: string, args: string[], env?: Record<string, string>, timeoutMs = 15_000): Promise<Ready> {
  const child = fork(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [], env: env && { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => settle(new Error(`${file} not ready within ${timeoutMs} ms`)), timeoutMs);
    const settle = (err: Error | null, port = 0, pids: number[] = []): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (!err) return resolve({ child, port, pids });
      child.kill('SIGKILL');
      reject(err);
    };
    const onMessage = (m: { type?: string; port?: number; pids?: number[]; message?: string }): void => {
      if (m.type === 'ready') settle(null, m.port ?? 0, m.pids ?? []);
      else if (m.type === 'failed') settle(new Error(`${file}: ${m.message}`));
    };
    const onExit = (code: number | null, signal: string | null): void => settle(new Error(`${file} exited (${signal ?? code}) before it was ready`));
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
