// The product, started the way a user starts it: `faasflow up` with a config in a temp dir whose
// one function answers the body's length (the same small reply as the reference setups), and
// `faasflow down --clean-shm` at the end, whatever happened in between.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { processTree } from './cpu.js';
import { forgetLocation } from '../control/location.js';
import { packageRoot } from './process.js';
import { Segment } from '../shm/index.js';
import type { RunningSetup, StartOptions } from './setups.js';

const FUNCTION_ID = 1;

/** The benchmark function: O(1) work, so the numbers are the runtime's, not the handler's. */
const HANDLER = `// Written by faasflow bench: answers the body's length, as the reference setups do.
export default function length(input: Uint8Array): string {
  return String(input.length);
}
`;

/**
 * One replica: on 2 cores a second one only competes with the gateway and the load generator.
 * The segment as a user gets it (segment.size 1 GiB, the default classes): 32 connections of
 * 16 MiB bodies fit its budget, and the large cells measure what that default carries.
 */
export function benchConfig(port: number, runtimeDir: string, o: { cpus?: number[]; spinMicros?: number; parser?: 'light' | 'node'; accessLog?: boolean; async?: boolean | 'process' } = {}): string {
  const cpus = o.cpus ?? [];
  return `// Written by faasflow bench.
import { defineConfig } from 'faasflow';

export default defineConfig({
  gateway: { host: '127.0.0.1', port: ${port}${o.parser ? `, parser: '${o.parser}'` : ''}${o.accessLog === false ? ', accessLog: false' : ''} },
  runtimeDir: ${JSON.stringify(runtimeDir)},${cpus.length ? `\n  cpus: ${JSON.stringify(cpus)},` : ''}${o.spinMicros !== undefined ? `\n  spinMicros: ${o.spinMicros},` : ''}${o.async === 'process' ? "\n  async: { durability: 'process' }," : o.async ? '\n  async: {},' : ''}
  functions: [{ id: ${FUNCTION_ID}, name: 'bench-length', handler: './length.ts', replicas: 1, concurrency: 64 }],
});
`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** faasflow's processes by what they run: gateway, container, supervisor. */
function byRole(pids: number[]): Record<string, number[]> {
  const out: Record<string, number[]> = { gateway: [], container: [], supervisor: [] };
  for (const pid of pids) {
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const role = /runtime\/gateway\//.test(cmd) ? 'gateway' : /runtime\/container\//.test(cmd) ? 'container' : 'supervisor';
    out[role].push(pid);
  }
  return out;
}

/** `o.env` goes to `up` and so to the supervisor and every process it starts. */
export async function startFaasflow(o: StartOptions = {}): Promise<RunningSetup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-'));
  const instance = o.instance ?? `bench-${process.pid}`;
  const bin = path.join(o.root ?? packageRoot(), 'bin', 'run.js');
  const cli = (args: string[], timeout: number) =>
    execa(process.execPath, [bin, ...args], { cwd: dir, timeout, reject: false, all: true, env: args[0] === 'up' ? o.env : undefined, stdin: 'ignore' });
  const config = path.join(dir, 'faasflow.config.ts');
  let stopped = false;
  // Its domain segments, mapped read-only on first use, for the bytes-held samples.
  let domains: Segment[] | undefined;
  const memory = () => {
    domains ??= Segment.ofInstance(instance).filter((e) => e.memfd).map((e) => Segment.open(e, false));
    return domains.reduce((a, s) => {
      const o = s.pool.occupancy();
      return { held: a.held + o.held, carried: a.carried + o.carried };
    }, { held: 0, carried: 0 });
  };
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of domains ?? []) s.close();
    const down = await cli(['down', '--instance', instance, '--config', config, '--clean-shm'], 60_000);
    fs.rmSync(dir, { recursive: true, force: true });
    forgetLocation(instance, dir);
    if (down.exitCode !== 0) throw new Error(`faasflow down --instance ${instance} failed (${down.exitCode}):\n${down.all}`);
  };
  try {
    const port = await freePort();
    fs.writeFileSync(path.join(dir, 'length.ts'), HANDLER);
    fs.writeFileSync(config, benchConfig(port, path.join(dir, 'run'), o));
    const up = await cli(['up', '--instance', instance, '--config', config, '--json'], 120_000);
    if (up.exitCode !== 0) throw new Error(`faasflow up --instance ${instance} failed (${up.exitCode ?? up.signal}):\n${up.all}`);
    const { supervisorPid } = JSON.parse(up.stdout) as { supervisorPid: number };
    // Supervisor, gateway, containers: whatever the instance runs, restarts included.
    const pids = () => processTree(supervisorPid);
    return { name: o.name ?? 'faasflow', url: `http://127.0.0.1:${port}/function/${FUNCTION_ID}`, pids, roles: () => byRole(pids()), memory, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}
