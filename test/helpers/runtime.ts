// Starts the real gateway and container processes the way the supervisor does (runtime and domain
// segments, resolved config, bundled handlers, env, a container's channel, links handed over,
// readiness), without the supervisor and without the sandbox, and tears everything down at the end
// of the test whatever happened.
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { Test } from 'tap';
import { DEFAULT_CLASSES, Segment, domainSegmentName } from '../../src/shm/index.js';
import { ProcessTable } from '../../src/shm/proctable.js';
import { bundleHandler } from '../../src/runtime/handler/bundle.js';
import type { FunctionConfig, ResolvedConfig } from '../../src/config/types.js';
import type { ChildMessage, Route } from '../../src/runtime/protocol.js';
import { DEFAULT_SPIN_MICROS } from '../../src/common/env.js';
import { link } from '../../src/runtime/broker.js';
import { ContainerChannel } from '../../src/runtime/supervisor/container-channel.js';
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
  /** Security domain (default: one per function). */
  domain?: string;
}

type Gateway = ResultPromise<{ ipc: true; serialization: 'advanced'; reject: false }>;
/** What waits for a child's messages: a gateway's IPC channel, or a container's channel's `messages`. */
type Messages = Pick<EventEmitter, 'on' | 'off'>;

export interface Proc {
  pid: number;
  child: ChildProcess;
  /** Its messages to the supervisor, as the supervisor's checks let them through ('message'). */
  messages: Messages;
  functionId: number;
  replica: number;
  deployment: number;
}

export interface Runtime {
  port: number;
  /** The first function's domain segment (its packets). */
  seg: Segment;
  /** The runtime segment: process table and function stats. */
  runtime: Segment;
  /** Each function's domain segment. */
  segOf(fn: number): Segment;
  /** Packets in use over every domain segment. */
  inUse(): number;
  dir: string;
  gateway: Proc;
  containers: Proc[];
  cfg: ResolvedConfig;
  startContainer(fn: number, replica: number, deployment?: number, handler?: string): Promise<Proc>;
  setRoutes(routes: Route[]): Promise<void>;
  stop(p: Proc, signal?: NodeJS.Signals): Promise<void>;
}

function waitReady(child: ChildProcess, messages: Messages, what: string, timeoutMs = 20000): Promise<ChildMessage & { type: 'ready' }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready after ${timeoutMs} ms`)), timeoutMs);
    messages.on('message', (m: ChildMessage) => {
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

/** Resolves at the child's first message of `type` ('listening': links may be sent now). */
function waitMessage(messages: Messages, type: ChildMessage['type']): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: ChildMessage) => {
      if (m.type !== type) return;
      messages.off('message', on);
      resolve();
    };
    messages.on('message', on);
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The gateway's links wait this long plus HELLO_GRACE_MS for a container's hello. */
export const READY_TIMEOUT_MS = 5000;

export async function startRuntime(t: Test, fns: FnSpec[], opts: { segmentSize?: number; segmentWaitMs?: number; queueLimit?: number; classes?: ResolvedConfig['segment']['classes']; cpus?: number[]; spinMicros?: number; requestTimeoutMs?: number; drainDelayMs?: number; flows?: ResolvedConfig['flows']; parser?: 'light' | 'node' } = {}): Promise<Runtime> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-rt-'));
  const name = uniqueName('rt');
  const cfg: ResolvedConfig = {
    file: '',
    instance: name.slice('/faasflow-'.length),
    runtimeDir: dir,
    gateway: { host: '127.0.0.1', port: 0, requestTimeoutMs: opts.requestTimeoutMs ?? 30000, drainDelayMs: opts.drainDelayMs ?? 0, workers: 1, parser: opts.parser ?? 'light' },
    proxy: { queueLimit: opts.queueLimit ?? 1024 },
    flows: opts.flows ?? [],
    segment: { size: opts.segmentSize ?? 128 << 20, classes: opts.classes ?? DEFAULT_CLASSES, maxFunctions: 64, procSlots: 64, waitMs: opts.segmentWaitMs ?? 5000 },
    functions: fns.map((f): FunctionConfig => ({
      id: f.id, name: f.name ?? `fn${f.id}`, handler: path.resolve(ROOT, f.handler), replicas: f.replicas ?? 1, concurrency: f.concurrency ?? 8,
      timeoutMs: f.timeoutMs ?? 5000, memoryLimit: 0, memoryMax: 1 << 30, pidsMax: 256, domain: f.domain ?? f.name ?? `fn${f.id}`, env: {},
    })),
    logs: { maxBytes: 1 << 20, keep: 1, maxLine: 16 << 10, rate: 0, burst: 0 },
    supervisor: { maxRestarts: 3, periodMs: 10000, backoffMinMs: 100, backoffMaxMs: 1000, shutdownTimeoutMs: 8000, readyTimeoutMs: READY_TIMEOUT_MS },
    observe: { shmWarnPercent: 80, sampleIntervalMs: 1000 },
    security: { sandbox: false },
    spinMicros: opts.spinMicros ?? DEFAULT_SPIN_MICROS,
  };
  const runtime = Segment.create({ name, kind: 'runtime', procSlots: 64, maxFunctions: 64, fnWriters: 1, instance: cfg.instance });
  const table = new ProcessTable(runtime);
  // One domain segment per domain, numbered in order of first appearance.
  const domainNames = [...new Set(fns.map((f) => f.domain ?? f.name ?? `fn${f.id}`))];
  const domainSegs = domainNames.map((d, index) => Segment.create({
    name: domainSegmentName(cfg.instance, d.replace(/[^a-z0-9-]/g, '-').toLowerCase()), kind: 'domain', budget: cfg.segment.size, classes: cfg.segment.classes, statsSlots: 64, instance: cfg.instance, domain: d, domainIndex: index,
  }));
  const domainOf = (fn: number) => domainNames.indexOf(fns.find((f) => f.id === fn)?.domain ?? fns.find((f) => f.id === fn)?.name ?? `fn${fn}`);
  const segs = [runtime, ...domainSegs];
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    await Promise.all(children.map((c) => stopChild(c)));
    for (const s of segs) {
      s.close();
      if (!s.memfd && Segment.exists(s.name)) Segment.unlink(s.name);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(cfg));
  const domainsEnv = JSON.stringify(domainSegs.map((s, index) => ({ index, name: domainNames[index], segment: s.name, path: s.path })));
  const baseEnv: Record<string, string> = { FAASFLOW_CONFIG: configFile };
  if (opts.cpus) baseEnv.FAASFLOW_CPUS = opts.cpus.join(',');
  baseEnv.FAASFLOW_SPIN_US = String(cfg.spinMicros);
  const stderr = process.env.FF_TEST_VERBOSE ? 'inherit' : 'ignore';
  const gwChild = execa('node', [path.join(DIST, 'gateway/main.js')], { env: { ...baseEnv, FAASFLOW_SEGMENT: runtime.name, FAASFLOW_DOMAINS: domainsEnv, FAASFLOW_GATEWAY_INDEX: '0' }, ipc: true, serialization: 'advanced', reject: false, stdout: 'ignore', stderr }) as Gateway;
  children.push(gwChild);
  if (gwChild.pid) table.register(gwChild.pid, 'gateway');
  const ready = await waitReady(gwChild, gwChild, 'gateway');
  const gateway: Proc = { pid: gwChild.pid!, child: gwChild, messages: gwChild, functionId: 0, replica: 0, deployment: 0 };
  // A container has no Node IPC channel: the supervisor's own (container-channel.ts), as it spawns one.
  // Its descriptors as the supervisor passes them: the channel's at 3 and 4, then `fds` from 5.
  const spawnContainer = (env: Record<string, string>, fds: number[] = []): { child: ChildProcess; messages: EventEmitter; channel: ContainerChannel } => {
    const messages = new EventEmitter();
    const channel = new ContainerChannel({
      message: (m) => messages.emit('message', m),
      bad: (reason) => {
        messages.emit('bad', reason);
        child.kill('SIGKILL');
      },
    });
    const stdio = ['ignore', 'ignore', stderr, channel.theirs.messages, channel.theirs.links, ...fds] as const;
    const child = spawnProcess('node', [path.join(DIST, 'container/main.js')], { env: { ...process.env, ...baseEnv, ...env, ...ContainerChannel.env(3, 4) }, stdio: [...stdio] });
    children.push(child);
    if (child.pid) channel.spawned(child.pid);
    child.once('exit', () => channel.exited());
    child.once('close', () => channel.close());
    return { child, messages, channel };
  };
  const bundles = new Map<string, string>();
  const bundle = async (handler: string) => {
    const abs = path.resolve(ROOT, handler);
    if (!bundles.has(abs)) bundles.set(abs, (await bundleHandler(abs, path.join(dir, 'bundles'))).file);
    return bundles.get(abs)!;
  };
  let nextStatsSlot = 0;
  const startContainer = async (fn: number, replica: number, deployment = 1, handler?: string): Promise<Proc> => {
    const f = cfg.functions.find((x) => x.id === fn)!;
    const domain = domainOf(fn);
    const statsSlot = nextStatsSlot++ % 64;
    const { child, messages, channel } = spawnContainer({
      FAASFLOW_SEGMENT: domainSegs[domain].name, FAASFLOW_SEGMENT_FD: '5', FAASFLOW_STATS_SLOT: String(statsSlot),
      FAASFLOW_FUNCTION_ID: String(fn), FAASFLOW_DEPLOYMENT: String(deployment), FAASFLOW_REPLICA: String(replica),
      FAASFLOW_HANDLER: await bundle(handler ?? f.handler), FAASFLOW_CONCURRENCY: String(f.concurrency), FAASFLOW_TIMEOUT_MS: String(f.timeoutMs),
    }, [domainSegs[domain].fd]);
    if (child.pid) table.register(child.pid, { role: 'container', functionId: fn, replica, deployment, domainIndex: domain, statsSlot });
    const readyP = waitReady(child, messages, `container ${fn}/${replica}`);
    await Promise.race([waitMessage(messages, 'listening'), readyP]);
    await link(gwChild, 0, { pid: child.pid, sendLink: (fd, m) => channel.sendLink(fd, m) }, { pid: child.pid!, functionId: fn, deployment, replica, domain });
    await readyP;
    return { pid: child.pid!, child, messages, functionId: fn, replica, deployment };
  };
  const containers: Proc[] = [];
  for (const f of cfg.functions) for (let r = 0; r < f.replicas; r++) containers.push(await startContainer(f.id, r));
  return {
    port: ready.port!,
    seg: domainSegs[0],
    runtime,
    segOf: (fn) => domainSegs[domainOf(fn)],
    inUse: () => domainSegs.reduce((a, s) => a + s.pool.inUse(), 0),
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
        gwChild.send({ type: 'routes', version, routes: routes.map((r) => ({ ...r, domain: domainOf(r.id) })) });
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

/**
 * For the whoami fixture's ?started=: a file each handler appends a byte to as it begins, so a
 * test can wait until `n` requests are running in containers (not merely sent) before it
 * disturbs them.
 */
export function startedMarks(t: Test): { query: string; running(n: number): Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-started-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'started');
  const count = () => fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  return {
    query: `started=${encodeURIComponent(file)}`,
    running: (n) => until(() => count() >= n, 30_000, `${n} handlers to start`),
  };
}
