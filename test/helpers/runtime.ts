// Starts the real gateway and container processes the way the supervisor does (segment, resolved
// config, bundled handlers, env, IPC readiness), without the supervisor, and tears everything
// down at the end of the test whatever happened.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { Test } from 'tap';
import { Segment } from '../../src/shm/index.js';
import { ProcessTable } from '../../src/shm/proctable.js';
import { bundleHandler } from '../../src/runtime/handler/bundle.js';
import type { FunctionConfig, ResolvedConfig } from '../../src/config/types.js';
import type { ChildMessage, Route } from '../../src/runtime/protocol.js';
import { DEFAULT_SPIN_MICROS } from '../../src/runtime/env.js';
import { uniqueName } from './segments.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = path.join(ROOT, 'dist', 'runtime');

export interface FnSpec {
  id: number;
  handler: string;
  replicas?: number;
  concurrency?: number;
  timeoutMs?: number;
  name?: string;
}

type Child = ResultPromise<{ ipc: true; serialization: 'advanced'; reject: false }>;

export interface Proc {
  pid: number;
  child: Child;
  functionId: number;
  replica: number;
  deployment: number;
}

export interface Runtime {
  port: number;
  seg: Segment;
  dir: string;
  gateway: Proc;
  containers: Proc[];
  cfg: ResolvedConfig;
  startContainer(fn: number, replica: number, deployment?: number, handler?: string): Promise<Proc>;
  setRoutes(routes: Route[]): Promise<void>;
  stop(p: Proc, signal?: NodeJS.Signals): Promise<void>;
}

function waitReady(child: Child, what: string, timeoutMs = 20000): Promise<ChildMessage & { type: 'ready' }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready after ${timeoutMs} ms`)), timeoutMs);
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m);
      } else if (m.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`${what} failed: ${m.message}`));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready`));
    });
  });
}

async function stopChild(child: Child, signal: NodeJS.Signals = 'SIGTERM', graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function startRuntime(t: Test, fns: FnSpec[], opts: { segmentSize?: number; queueLimit?: number; classes?: ResolvedConfig['segment']['classes']; cpus?: number[]; spinMicros?: number; requestTimeoutMs?: number; drainDelayMs?: number } = {}): Promise<Runtime> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-rt-'));
  const name = uniqueName('rt');
  const cfg: ResolvedConfig = {
    file: '',
    instance: name.slice('/faasflow-'.length),
    runtimeDir: dir,
    gateway: { host: '127.0.0.1', port: 0, requestTimeoutMs: opts.requestTimeoutMs ?? 30000, drainDelayMs: opts.drainDelayMs ?? 0, workers: 1 },
    proxy: { queueLimit: opts.queueLimit ?? 1024 },
    segment: { size: opts.segmentSize ?? 128 << 20, classes: opts.classes ?? [{ size: 4096 }, { size: 65536 }, { size: 1 << 20 }, { size: 16 << 20 }], maxFunctions: 64, procSlots: 64 },
    functions: fns.map((f): FunctionConfig => ({
      id: f.id, name: f.name ?? `fn${f.id}`, handler: path.resolve(ROOT, f.handler), replicas: f.replicas ?? 1, concurrency: f.concurrency ?? 8,
      timeoutMs: f.timeoutMs ?? 5000, memoryLimit: 0, memoryMax: 1 << 30, pidsMax: 256, domain: f.name ?? `fn${f.id}`, env: {},
    })),
    logs: { maxBytes: 1 << 20, keep: 1 },
    supervisor: { maxRestarts: 3, periodMs: 10000, backoffMinMs: 100, backoffMaxMs: 1000, shutdownTimeoutMs: 8000 },
    observe: { shmWarnPercent: 80, sampleIntervalMs: 1000 },
    security: { sandbox: false },
    spinMicros: opts.spinMicros ?? DEFAULT_SPIN_MICROS,
  };
  const seg = Segment.create({ name, size: cfg.segment.size, classes: cfg.segment.classes, maxFunctions: 64, procSlots: 64, instance: cfg.instance });
  const table = new ProcessTable(seg);
  const children: Child[] = [];
  t.teardown(async () => {
    await Promise.all(children.map((c) => stopChild(c)));
    seg.close();
    if (Segment.exists(name)) Segment.unlink(name);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(cfg));
  const proxySocket = path.join(dir, 'proxy.sock');
  const baseEnv: Record<string, string> = { FAASFLOW_CONFIG: configFile, FAASFLOW_SEGMENT: name, FAASFLOW_PROXY_SOCKET: proxySocket };
  if (opts.cpus) baseEnv.FAASFLOW_CPUS = opts.cpus.join(',');
  baseEnv.FAASFLOW_SPIN_US = String(cfg.spinMicros);
  const spawn = (script: string, env: Record<string, string>, fn = 0, replica = 0): Child => {
    const child = execa('node', [path.join(DIST, script)], { env: { ...baseEnv, ...env }, ipc: true, serialization: 'advanced', reject: false, stdout: 'ignore', stderr: process.env.FF_TEST_VERBOSE ? 'inherit' : 'ignore' }) as Child;
    children.push(child);
    if (child.pid) table.register(child.pid, script.startsWith('gateway') ? 'gateway' : 'container', fn, replica);
    return child;
  };

  const gwChild = spawn('gateway/main.js', {});
  const ready = await waitReady(gwChild, 'gateway');
  const gateway: Proc = { pid: gwChild.pid!, child: gwChild, functionId: 0, replica: 0, deployment: 0 };
  const bundles = new Map<string, string>();
  const bundle = async (handler: string) => {
    const abs = path.resolve(ROOT, handler);
    if (!bundles.has(abs)) bundles.set(abs, (await bundleHandler(abs, path.join(dir, 'bundles'))).file);
    return bundles.get(abs)!;
  };
  const startContainer = async (fn: number, replica: number, deployment = 1, handler?: string): Promise<Proc> => {
    const f = cfg.functions.find((x) => x.id === fn)!;
    const child = spawn('container/main.js', {
      FAASFLOW_FUNCTION_ID: String(fn), FAASFLOW_DEPLOYMENT: String(deployment), FAASFLOW_REPLICA: String(replica),
      FAASFLOW_HANDLER: await bundle(handler ?? f.handler), FAASFLOW_CONCURRENCY: String(f.concurrency), FAASFLOW_TIMEOUT_MS: String(f.timeoutMs),
    }, fn, replica);
    await waitReady(child, `container ${fn}/${replica}`);
    return { pid: child.pid!, child, functionId: fn, replica, deployment };
  };
  const containers: Proc[] = [];
  for (const f of cfg.functions) for (let r = 0; r < f.replicas; r++) containers.push(await startContainer(f.id, r));
  return {
    port: ready.port!,
    seg,
    dir,
    gateway,
    containers,
    cfg,
    startContainer,
    setRoutes: (routes) =>
      new Promise((resolve) => {
        const version = Date.now();
        const on = (m: ChildMessage) => {
          if (m.type === 'routes-applied' && m.version === version) {
            gwChild.off('message', on);
            resolve();
          }
        };
        gwChild.on('message', on);
        gwChild.send({ type: 'routes', version, routes });
      }),
    stop: (p, signal) => stopChild(p.child, signal),
  };
}

/** Waits until `cond()` holds, polling; fails the wait after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
