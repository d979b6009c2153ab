// The two reference setups the product is compared against, built from one hop program
// (servers/hop.ts) so that all three answer with the same handler: the body's length.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { distFile, forkReady, stopChild } from './process.js';
import { defaultWorkers } from '../config/load.js';
import type { SetupName } from './types.js';

export interface RunningSetup {
  name: SetupName;
  /** Where the load generator POSTs. */
  url: string;
  /** The processes doing the setup's work now, for CPU accounting. */
  pids(): number[];
  /** The same by kind of process, for a setup with several kinds (faasflow). */
  roles?(): Record<string, number[]>;
  /** Bytes of packets held now and the body bytes they carry (faasflow: its domain segments, read-only). */
  memory?(): { held: number; carried: number };
  /** Stops every process of the setup and removes what it left; safe to call twice. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra environment for the setup's server processes (e.g. NODE_OPTIONS=--cpu-prof). */
  env?: Record<string, string>;
  /** faasflow instance name; bench-<pid> by default. */
  instance?: string;
  /** CPUs faasflow's gateway and containers are pinned to. */
  cpus?: number[];
  /** faasflow's `spinMicros`; the product's default when absent. */
  spinMicros?: number;
  /** faasflow's `gateway.parser`; the product's default when absent. */
  parser?: 'light' | 'node';
  /** faasflow's `gateway.accessLog`; the product's default (on) when absent. */
  accessLog?: boolean;
  /** The setup's name in the results (a faasflow variant). */
  name?: SetupName;
  /** Workers of the cluster floor; faasflow's default gateway count when absent. */
  workers?: number;
  /** The faasflow checkout to start (bin/run.js under it); this package when absent. */
  root?: string;
  /** faasflow with `async: {}` (the async bench, src/bench/async); 'process': `async: { durability: 'process' }`. */
  async?: boolean | 'process';
}

export type SetupStarter = (o: StartOptions) => Promise<RunningSetup>;

const HOP = distFile('servers/hop.js');
const CLUSTER = distFile('servers/cluster.js');

/** Stops children in reverse start order, then removes the temp dir. */
function stopper(children: ChildProcess[], dir?: string): () => Promise<void> {
  return async () => {
    for (const c of [...children].reverse()) await stopChild(c);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };
}

export async function startFloor(o: StartOptions = {}): Promise<RunningSetup> {
  const { child, port } = await forkReady(HOP, ['--listen', 'tcp:0'], o.env);
  return { name: 'floor', url: `http://127.0.0.1:${port}/`, pids: () => [child.pid ?? 0], stop: stopper([child]) };
}

/** The floor as a Node cluster: `workers` processes sharing the port, the primary handing out connections. */
export async function startCluster(o: StartOptions = {}): Promise<RunningSetup> {
  const workers = o.workers ?? defaultWorkers();
  const { child, port, pids } = await forkReady(CLUSTER, ['--workers', String(workers)], o.env);
  return { name: 'cluster', url: `http://127.0.0.1:${port}/`, pids: () => [child.pid ?? 0, ...pids], stop: stopper([child]) };
}

/** gateway (TCP) → proxy (Unix socket) → container (Unix socket), three processes. */
export async function startCopy(o: StartOptions = {}): Promise<RunningSetup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-copy-'));
  const children: ChildProcess[] = [];
  const stop = stopper(children, dir);
  try {
    const containerSock = path.join(dir, 'container.sock');
    const proxySock = path.join(dir, 'proxy.sock');
    children.push((await forkReady(HOP, ['--listen', `unix:${containerSock}`], o.env)).child);
    children.push((await forkReady(HOP, ['--listen', `unix:${proxySock}`, '--forward', containerSock], o.env)).child);
    const gateway = await forkReady(HOP, ['--listen', 'tcp:0', '--forward', proxySock], o.env);
    children.push(gateway.child);
    return { name: 'copy', url: `http://127.0.0.1:${gateway.port}/`, pids: () => children.map((c) => c.pid ?? 0), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
