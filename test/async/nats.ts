// A real nats-server with JetStream for the async tests: a free port, its store in a temporary
// directory, killed and removed at teardown (also when the test fails). Where nats-server is not
// installed the tests that need it skip, except under CI (which installs it): there they fail.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Test } from 'tap';
import { freePort, until } from '../cli/helpers.js';

export interface NatsServer {
  url: string;
  port: number;
  dir: string;
  pid(): number | undefined;
  /** SIGKILL, then wait for it to be gone. */
  kill(): Promise<void>;
  /** Start again on the same port and store directory. */
  start(): Promise<void>;
}

/** Why the JetStream tests cannot run here, or undefined when they can. */
export function natsMissing(): string | undefined {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const why = 'nats-server is not installed (apt-get install nats-server)';
  if (process.env.CI) throw new Error(`${why}: .ci/run installs it`);
  return why;
}

const answers = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
  s.on('error', () => resolve(false));
});

export async function natsServer(t: Test): Promise<NatsServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-nats-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const log = path.join(dir, 'nats.log');
  const s: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    dir,
    pid: () => proc?.pid,
    async start() {
      const out = fs.openSync(log, 'a');
      proc = spawn('nats-server', ['-js', '-sd', path.join(dir, 'store'), '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', out, out] });
      fs.closeSync(out);
      const me = proc;
      await until(async () => me.exitCode === null && (await answers(port)), 15_000, `nats-server on port ${port} (log: ${log})`);
    },
    async kill() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    },
  };
  t.teardown(async () => {
    await s.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await s.start();
  return s;
}
