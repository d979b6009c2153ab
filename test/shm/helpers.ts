// Helpers for the shared-memory tests that start processes: the fixtures run the compiled dist/
// (a spawned .ts would need a loader), so dist must be at least as new as src/shm; every child is
// SIGKILLed and awaited in teardown, whatever the test's outcome.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
export const fixture = (name: string): string => path.join(here, 'fixtures', name);

/** Throws a clear error when dist/shm is missing or older than src/shm (children would run old code). */
export function requireBuiltShm(): void {
  const dist = path.join(root, 'dist', 'shm');
  const src = path.join(root, 'src', 'shm');
  const newest = (dir: string, ext: string) =>
    fs.existsSync(dir) ? Math.max(0, ...fs.readdirSync(dir).filter((f) => f.endsWith(ext)).map((f) => fs.statSync(path.join(dir, f)).mtimeMs)) : 0;
  const built = newest(dist, '.js');
  if (built === 0) throw new Error(`${dist} is missing: run \`npx tsc -p tsconfig.build.json\` before these tests`);
  if (newest(src, '.ts') > built + 1000) throw new Error(`${dist} is older than ${src}: run \`npx tsc -p tsconfig.build.json\` before these tests`);
}

export interface Worker {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or the signal name) when the child has exited. */
  exited: Promise<number | string>;
  /** The next IPC message for which `match` is true. */
  next<M>(match: (m: M) => boolean, timeoutMs?: number): Promise<M>;
}

/** Forks a fixture with an IPC channel; teardown kills it if it still runs and waits for it. */
export function forkFixture(t: Test, name: string, args: string[], env: NodeJS.ProcessEnv = {}): Worker {
  const child = fork(fixture(name), args, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const messages: unknown[] = [];
  const waiters: Array<() => void> = [];
  child.on('message', (m) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return {
    child,
    pid: child.pid,
    exited,
    next<M>(match: (m: M) => boolean, timeoutMs = 60_000): Promise<M> {
      return new Promise<M>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} (pid ${child.pid}) sent no matching message within ${timeoutMs} ms`)), timeoutMs);
        // 'close' comes after the last IPC message has been delivered, unlike 'exit'.
        const onExit = () => check() || reject(new Error(`${name} (pid ${child.pid}) exited (${child.exitCode ?? child.signalCode}) before sending the expected message`));
        const check = () => {
          const i = messages.findIndex((m) => match(m as M));
          if (i < 0) return false;
          clearTimeout(timer);
          child.off('close', onExit);
          resolve(messages.splice(i, 1)[0] as M);
          return true;
        };
        if (check()) return;
        child.once('close', onExit);
        const wait = () => {
          if (!check()) waiters.push(wait);
        };
        waiters.push(wait);
      });
    },
  };
}

/** A small deterministic PRNG (xorshift32) so a failing run can be replayed from its seed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}
