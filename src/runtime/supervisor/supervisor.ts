// The supervisor: creates the segment, starts the gateway then the containers, restarts what
// crashes (per the pure policy), switches deployments without dropping requests, serves the
// control socket and shuts everything down in reverse. Startup and deploys are sequences of
// typed events; the CLI's listr2 steps only render them.
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { defaultFunction } from '../../config/load.js';
import type { ResolvedConfig } from '../../config/types.js';
import { FaasflowError } from '../../control/errors.js';
import type { InstancePaths } from '../../control/paths.js';
import type { ChildState, ControlRequest, DeployRequest, DeployResult, InstanceStatus, StepName, SupervisorEvent } from '../../control/protocol.js';
import { killQuietly, procStat, sessionMembers } from '../../control/procs.js';
import { serveControl, type Reply } from '../../control/server.js';
import { writeJsonAtomic } from '../../control/state.js';
import { ProcessTable, Segment, pidAlive, segmentName } from '../../shm/index.js';
import { sys } from '../../sys/binding.js';
import { parseEnforcement } from '../../sys/sandbox.js';
import { link } from '../broker.js';
import { Domains } from './domains.js';
import { stop as stopEsbuild } from 'esbuild';
import { bundleHandler } from '../handler/bundle.js';
import type { Route } from '../protocol.js';
import { sampleMemory } from '../../observe/memory.js';
import { Child } from './child.js';
import { Deployments, pruneBundles, type FnEntry } from './deployments.js';
import { logFileFor, LogFiles, prettify } from './logs.js';
import { decide, describeExit } from './policy.js';
import { byRoleAndFunction, childStatus, selfStatus } from './status.js';
import { healthz } from './health.js';
import { childSpecs, intensityOf } from './specs.js';

export interface SupervisorOptions {
  cfg: ResolvedConfig;
  paths: InstancePaths;
  /** Also write every log line to this stream (`up --foreground`). */
  tee?: NodeJS.WritableStream;
  /** How `tee` gets the lines: as in the log files, or JSON lines. */
  teeFormat?: 'text' | 'json';
  modules: { gateway: string; container: string };
}

const HEARTBEAT_MS = 1000;
const RECLAIM_MS = 5000;

export class Supervisor {
  private readonly cfg: ResolvedConfig;
  private readonly paths: InstancePaths;
  private readonly logs: LogFiles;
  private readonly history: SupervisorEvent[] = [];
  private readonly listeners = new Set<(e: SupervisorEvent) => void>();
  private readonly functions = new Map<number, FnEntry>();
  private readonly deployments: Deployments;
  private readonly specs: ReturnType<typeof childSpecs>;
  private containers: Child[] = [];
  /** The gateway processes, by index (gateway.workers of them). */
  private gateways: Child[] = [];
  /** The runtime segment: process table and stats. */
  private seg: Segment | undefined;
  private readonly domains: Domains;
  /** The function entry (version) each container was started for: a deploy runs two side by side. */
  private readonly fnOf = new Map<Child, FnEntry>();
  private table: ProcessTable | undefined;
  private server: net.Server | undefined;
  private state: InstanceStatus['state'] = 'starting';
  private port: number;
  private routesVersion = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private busy: Promise<unknown> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  private resolveDone!: (code: number) => void;
  private readonly done = new Promise<number>((r) => (this.resolveDone = r));
  private resolveStopped!: () => void;
  private readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(private readonly o: SupervisorOptions) {
    this.cfg = o.cfg;
    this.paths = o.paths;
    this.port = o.cfg.gateway.port;
    this.logs = new LogFiles(o.paths.logs, o.cfg.logs, o.tee, o.teeFormat);
    this.deployments = new Deployments(o.paths.deployments);
    this.specs = childSpecs(o.cfg, o.paths, o.modules);
    this.domains = new Domains(o.cfg);
  }

  // ── events ──────────────────────────────────────────────────────────────────────────────────
  private emit(e: SupervisorEvent): void {
    this.history.push(e);
    if (this.history.length > 2000) this.history.splice(0, 1000);
    const text = e.kind === 'step' ? `[${e.step}] ${e.status} ${e.message}` : e.kind === 'child' ? `${e.id} pid ${e.pid} ${e.state} ${e.message}` : 'message' in e ? e.message : e.kind;
    this.logs.write(logFileFor('supervisor'), `supervisor[${process.pid}]`, text);
    for (const l of this.listeners) l(e);
  }

  private info(message: string): void {
    this.emit({ kind: 'info', message, at: Date.now() });
  }

  private async step<T>(step: StepName, what: string, fn: () => Promise<T> | T): Promise<T> {
    // A shutdown (signal, failed significant child) during startup ends it here.
    if (this.stopping) throw new FaasflowError('START_FAILED', 'the supervisor is shutting down');
    this.emit({ kind: 'step', step, status: 'start', message: what, at: Date.now() });
    try {
      const r = await fn();
      return r;
    } catch (err) {
      this.emit({ kind: 'step', step, status: 'failed', message: (err as Error).message, at: Date.now() });
      throw err;
    }
  }

  private stepDone(step: StepName, message: string, status: 'done' | 'warn' = 'done'): void {
    this.emit({ kind: 'step', step, status, message, at: Date.now() });
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────────
  /** Runs until stopped; resolves with the process exit code. */
  async run(): Promise<number> {
    fs.mkdirSync(this.paths.bundles, { recursive: true, mode: 0o700 });
    this.server = await serveControl(this.paths.socket, (req, reply, closed) => this.handle(req, reply, closed));
    this.writeState();
    try {
      await this.startAll();
    } catch (err) {
      this.emit({ kind: 'fatal', message: (err as Error).message, at: Date.now() });
      await this.shutdown(`startup failed: ${(err as Error).message}`, 1);
    }
    return this.done;
  }

  private async startAll(): Promise<void> {
    const { cfg } = this;
    const name = segmentName(cfg.instance);
    await this.step('segment', `creating ${name}`, () => {
      // Only the supervisor and the gateways (this user) can map it: no container ever can.
      this.seg = Segment.create({ name, kind: 'runtime', instance: cfg.instance, maxFunctions: cfg.segment.maxFunctions, fnWriters: cfg.gateway.workers, procSlots: cfg.segment.procSlots, mode: 0o600 });
      this.table = new ProcessTable(this.seg);
      this.table.setState(this.table.register(process.pid, 'supervisor'), 'ready');
      this.stepDone('segment', `${name}: process table and stats of ${cfg.gateway.workers} gateway(s)`);
    });
    await this.step('handlers', `bundling ${cfg.functions.length} function(s)`, () => this.bundleConfigFunctions());
    await this.step('gateway', `starting ${cfg.gateway.workers} gateway(s) on ${cfg.gateway.host}:${cfg.gateway.port}`, async () => {
      this.checkPortFree();
      // The first one takes the port (the configured one, or any free one for port 0); the others
      // share it (SO_REUSEPORT).
      const first = this.startGateway(0);
      const r = await first.outcome();
      if (!r.ready) throw new FaasflowError('START_FAILED', `the gateway did not start: ${r.reason}`);
      const rest = Array.from({ length: cfg.gateway.workers - 1 }, (_, i) => this.startGateway(i + 1));
      for (const o of await Promise.all(rest.map((g) => g.outcome()))) if (!o.ready) throw new FaasflowError('START_FAILED', `a gateway did not start: ${o.reason}`);
      this.stepDone('gateway', `${this.gateways.length} gateway(s) listening on http://${cfg.gateway.host}:${this.port} (pid ${this.gateways.map((g) => g.pid).join(', ')})`);
    });
    await this.step('containers', `starting ${this.replicaCount()} container(s)`, async () => {
      // The gateway learns the deployments first, so it accepts each container as it connects.
      await this.pushRoutes();
      for (const f of this.functions.values()) for (let r = 0; r < f.replicas; r++) this.startContainer(f, r);
      // A container that crash-loops is given up on by the policy; up then reports it and the
      // other functions serve. One that hangs while loading is not waited for past its first
      // ready timeout (its restarts would keep `up` for minutes): up reports it, it keeps trying.
      await Promise.all(this.containers.map((c) => this.settled(c)));
      const failed = this.containers.filter((c) => c.state === 'failed');
      const late = this.containers.filter((c) => c.state !== 'ready' && c.state !== 'failed');
      const problems = [
        failed.length ? `${failed.length} of ${this.containers.length} failed: ${failed.map((c) => `${c.spec.id} (${c.lastExit}${c.lastError ? `; last error: ${c.lastError}` : ''})`).join('; ')}` : '',
        late.length ? `${late.length} of ${this.containers.length} not ready yet, still being restarted: ${late.map((c) => `${c.spec.id} (${c.lastExit}; see \`faasflow logs --id ${c.spec.functionId}\`)`).join('; ')}` : '',
      ].filter(Boolean);
      if (problems.length) this.stepDone('containers', problems.join('; '), 'warn');
      else this.stepDone('containers', `${this.containers.length} ready`);
    });
    await this.step('health', `GET /healthz`, async () => {
      const body = await healthz(this.cfg.gateway.host, this.port);
      const routed = (JSON.parse(body) as { functions?: unknown[] }).functions?.length ?? 0;
      this.stepDone('health', `GET /healthz: ok, ${routed} function(s) routed`);
    });
    this.state = 'running';
    this.writeState();
    this.timers.push(setInterval(() => this.heartbeat(), HEARTBEAT_MS), setInterval(() => this.reclaimDead(), RECLAIM_MS));
    if ([...this.functions.values()].some((f) => f.memoryLimit > 0)) this.timers.push(setInterval(() => this.enforceMemoryLimits(), this.cfg.observe.sampleIntervalMs));
    this.emit({ kind: 'running', port: this.port, host: cfg.gateway.host, at: Date.now() });
    this.logs.startTee();
  }

  private async bundleConfigFunctions(): Promise<void> {
    for (const f of this.cfg.functions) {
      const deployment = this.deployments.next(f.id);
      const { file } = await bundleHandler(f.handler, path.join(this.paths.bundles, `fn${f.id}-d${deployment}`));
      this.functions.set(f.id, { ...f, deployment, bundle: file, source: f.handler, origin: 'config' });
    }
    const deployed: string[] = [];
    for (const d of this.deployments.persisted) {
      this.functions.set(d.id, d);
      deployed.push(`${d.id}`);
      this.info(`function ${d.id} (${d.name}): serving deployment ${d.deployment} from \`faasflow deploy\` of ${d.source}`);
    }
    // esbuild keeps a service process alive for the next build; the supervisor builds only here.
    await stopEsbuild();
    this.deployments.save(this.functions.values());
    pruneBundles(this.paths.bundles, [...this.functions.values()].map((f) => f.bundle));
    this.domains.ensure([...this.functions.values()]);
    const domains = this.domains.describe().map((d) => `${d.name} (${d.enforcement})`).join(', ');
    for (const d of this.domains.describe()) this.info(`domain ${d.name}: segment ${d.segment}, isolation ${d.enforcement}, runs as ${d.user}, cgroups ${d.cgroups}`);
    for (const n of this.domains.notes.splice(0)) this.info(n);
    this.stepDone('handlers', `${this.functions.size} function(s): ${[...this.functions.values()].map((f) => `${f.id}=${f.name}`).join(', ')}${deployed.length ? ` (${deployed.join(', ')} as last deployed by \`faasflow deploy\`)` : ''}; domains: ${domains || 'none'}`);
  }

  private replicaCount(): number {
    return [...this.functions.values()].reduce((a, f) => a + f.replicas, 0);
  }

  private startGateway(index: number): Child {
    const g = this.adopt(new Child(this.specs.gateway(index, this.domains.segments(), index === 0 ? undefined : this.port)));
    this.gateways[index] = g;
    g.start();
    return g;
  }

  /** Before any gateway binds with SO_REUSEPORT: a plain bind fails if anything, even another instance, holds the port. */
  private checkPortFree(): void {
    const { host, port } = this.cfg.gateway;
    if (port === 0) return;
    try {
      sys.closeFd(sys.listenTcp(host, port, 1, false));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new FaasflowError('START_FAILED', `port ${port} on ${host} is already in use: stop what uses it (\`ss -ltnp 'sport = :${port}'\`) or set gateway.port in faasflow.config.ts`);
    }
  }

  private startContainer(f: FnEntry, replica: number, restarts = 0): Child {
    const d = this.domains.ensure([f]).at(0) ?? this.domains.byName(f.domain)!;
    const statsSlot = this.domains.takeStatsSlot(d);
    const c = this.adopt(new Child(this.specs.container(f, replica, { segment: d.segment.name, statsSlot, tmpDir: d.tmpDir, policy: this.domains.policyFor(d, f) })));
    c.statsSlot = statsSlot;
    c.restarts = restarts;
    this.fnOf.set(c, f);
    this.containers.push(c);
    c.start();
    return c;
  }

  /** Forgets containers that are gone for good, giving their stats records back to their domains. */
  private dropContainers(gone: Child[]): void {
    for (const c of gone) {
      const d = this.domains.byName(this.fnOf.get(c)?.domain ?? '');
      if (d) this.domains.returnStatsSlot(d, c.statsSlot);
      this.fnOf.delete(c);
    }
    this.containers = this.containers.filter((c) => !gone.includes(c));
  }

  /** A container listens: a sandboxed one gets its handler's source, and each gets a link to every ready gateway. */
  private onContainerListening(c: Child): void {
    const f = this.fnOf.get(c);
    if (!f) return;
    if (c.spec.start.wrapper) {
      try {
        c.send({ type: 'handler', name: `fn${f.id}-d${f.deployment}.mjs`, source: fs.readFileSync(f.bundle, 'utf8') });
      } catch (err) {
        this.logs.write(logFileFor('container', f.id), `${c.spec.id}[${c.pid}]`, `cannot send the handler: ${(err as Error).message}`);
      }
    }
    for (const [index, g] of this.gateways.entries()) if (g?.state === 'ready') this.linkPair(g, index, c, f.domain);
  }

  /** A gateway is ready: it gets a link to every container that listens. */
  private onGatewayReady(g: Child, index: number): void {
    for (const c of this.containers) {
      const f = this.fnOf.get(c);
      if (c.listening && c.running && f) this.linkPair(g, index, c, f.domain);
    }
  }

  private linkPair(g: Child, index: number, c: Child, domainName: string): void {
    const gi = g.ipc;
    const ci = c.ipc;
    const d = this.domains.byName(domainName);
    if (!gi || !ci || !d) return;
    void link(gi, index, ci, { pid: c.pid, functionId: c.spec.functionId, deployment: c.spec.deployment, replica: c.spec.replica, domain: d.index }).then((ok) => {
      if (!ok && c.running && g.running) this.info(`could not link gateway ${index} and ${c.spec.id} (pid ${c.pid}); one of them is exiting`);
    });
  }

  /**
   * Waits until a child is ready or given up on (restarts in between are the policy's business),
   * or until it was killed for not becoming ready in time: its next attempt would likely hang too.
   */
  private settled(c: Child): Promise<void> {
    const done = (s: ChildState) => s === 'ready' || s === 'failed' || s === 'stopped' || (s === 'crashed' && c.timedOut);
    if (done(c.state)) return Promise.resolve();
    return new Promise((resolve) => {
      const on = (s: ChildState) => {
        if (done(s)) {
          c.off('state', on);
          resolve();
        }
      };
      c.on('state', on);
    });
  }

  /** Wires a child to the process table, the logs, the events and the restart policy. */
  private adopt(c: Child): Child {
    const s = c.spec;
    const who = () => `${s.id}[${c.pid}]`;
    const file = logFileFor(s.role, s.functionId);
    c.on('output', (line) => this.logs.write(file, who(), prettify(line)));
    c.on('state', (state) => {
      if (this.table && c.slot >= 0) this.table.setState(c.slot, state);
      this.emit({ kind: 'child', id: s.id, pid: c.pid, state, message: state === 'failed' || state === 'crashed' ? c.lastExit : '', at: Date.now() });
      this.writeState();
    });
    c.on('message', (m) => {
      if (m.type === 'replica-stuck' && s.role === 'gateway') {
        const stuck = this.containers.find((x) => x.pid === m.pid && x.running);
        if (stuck) {
          this.logs.write(logFileFor('container', stuck.spec.functionId), `${stuck.spec.id}[${stuck.pid}]`, `STUCK, killing it: ${m.reason}`);
          stuck.abort();
        }
      }
      if (m.type === 'replace-me' && s.role === 'container') {
        const f = this.functions.get(s.functionId);
        if (f && c.state === 'ready' && !c.stopping && f.deployment === s.deployment) this.replaceGracefully(c, f, m.reason);
      }
      if (m.type === 'listening' && s.role === 'container') this.onContainerListening(c);
      if (m.type === 'ready' && s.role === 'container' && this.table && c.slot >= 0) this.table.setSandbox(c.slot, parseEnforcement(m.sandbox));
      if (m.type === 'ready' && s.role === 'gateway') {
        if (m.port && s.replica === 0) this.port = m.port;
        this.onGatewayReady(c, s.replica);
        // A restarted gateway starts from its config; give it the live table.
        if (this.state !== 'starting') void this.pushRoutes();
      }
    });
    c.on('exit', (exit) => this.onExit(c, exit));
    c.on('spawn', (pid) => {
      // Registered before the child can look itself up in the table (the container does).
      const domain = s.role === 'container' ? this.domains.byName(this.fnOf.get(c)?.domain ?? '') : undefined;
      if (this.table) c.slot = this.table.register(pid, { role: s.role, functionId: s.functionId, replica: s.replica, deployment: s.deployment, restarts: c.restarts, ...(domain ? { domainIndex: domain.index, statsSlot: c.statsSlot } : {}) });
      this.logs.write(file, who(), `started (${s.role}${s.role === 'container' ? ` function ${s.functionId} deployment ${s.deployment} replica ${s.replica}` : ''})`);
    });
    return c;
  }

  private onExit(c: Child, exit: Parameters<typeof decide>[2]): void {
    // Its packets may be in any domain segment (a gateway's are in all of them).
    const freed = this.domains.all().reduce((n, d) => n + (d.segment.isClosed ? 0 : d.segment.pool.reclaim(c.pid)), 0);
    if (this.table && c.slot >= 0) this.table.release(c.slot);
    c.slot = -1;
    c.lastExit = describeExit(exit);
    const file = logFileFor(c.spec.role, c.spec.functionId);
    // One line per exit: how it ended, what was reclaimed, the last error, what happens next.
    const detail = `${freed ? `; reclaimed ${freed} packet(s)` : ''}${c.lastError && !exit.requested && !exit.cause ? `; last error: ${c.lastError}` : ''}`;
    if (this.stopping && !exit.requested) exit = { ...exit, requested: true };
    const action = decide(c.spec.restart, c.history, exit, intensityOf(this.cfg));
    if (action.action === 'none') {
      this.logs.write(file, `${c.spec.id}[${c.pid}]`, `${c.lastExit}${detail}`);
      c.setState('stopped');
      return;
    }
    if (action.action === 'give-up') {
      c.lastExit = action.reason;
      this.logs.write(file, `${c.spec.id}[${c.pid}]`, `GIVING UP: ${action.reason}${detail}`);
      c.setState('failed');
      if (c.spec.significant) void this.shutdown(`${c.spec.id} failed: ${action.reason}`, 1);
      else if (c.spec.role === 'container') this.pushRoutes().catch(() => undefined);
      return;
    }
    c.lastExit = action.reason;
    this.logs.write(file, `${c.spec.id}[${c.pid}]`, `${action.reason}${detail}`);
    c.setState('crashed');
    const t = setTimeout(() => {
      this.timers.splice(this.timers.indexOf(t), 1);
      if (this.stopping || c.stopping) return c.setState('stopped');
      c.history = [...c.history.filter((h) => Date.now() - h < this.cfg.supervisor.periodMs), Date.now()];
      c.restarts++;
      c.start();
    }, action.delayMs);
    this.timers.push(t);
  }

  // ── routing and deploys ─────────────────────────────────────────────────────────────────────
  private routes(): Route[] {
    return [...this.functions.values()].map((f) => {
      const replicas = this.containers.filter((c) => c.spec.functionId === f.id && c.spec.deployment === f.deployment);
      const down = replicas.length > 0 && replicas.every((c) => c.state === 'failed');
      const route: Route = { id: f.id, name: f.name, deployment: f.deployment, timeoutMs: f.timeoutMs, concurrency: f.concurrency, domain: this.domains.byName(f.domain)?.index ?? -1 };
      if (down) route.unavailable = `every replica of function ${f.id} (${f.name}) crashed repeatedly and was given up: see \`faasflow logs --id ${f.id}\`, fix the handler and \`faasflow deploy\` it again`;
      return route;
    });
  }

  /** Sends every ready gateway the table (and the domain segments) and waits for each to confirm it. */
  private async pushRoutes(): Promise<void> {
    const version = ++this.routesVersion;
    const routes = this.routes();
    const domains = this.domains.segments();
    const ready = this.gateways.filter((g) => g?.state === 'ready');
    const applied = await Promise.all(ready.map((gw) => {
      const ok = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => done(false), 10_000);
        const onMsg = (m: { type: string; version?: number }) => m.type === 'routes-applied' && m.version === version && done(true);
        const onExit = () => done(false);
        const done = (r: boolean) => {
          clearTimeout(timer);
          gw.off('message', onMsg);
          gw.off('exit', onExit);
          resolve(r);
        };
        gw.on('message', onMsg);
        gw.once('exit', onExit);
      });
      gw.send({ type: 'routes', version, routes, domains });
      return ok;
    }));
    if (applied.includes(false)) throw new FaasflowError('DEPLOY_FAILED', `a gateway did not apply routing table ${version} (is it restarting? see \`faasflow logs\`)`);
  }

  private deploy(req: DeployRequest, note: (m: string) => void): Promise<DeployResult> {
    const run = this.busy.then(() => this.deployNow(req, note));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async deployNow(req: DeployRequest, note: (m: string) => void): Promise<DeployResult> {
    if (this.state !== 'running') throw new FaasflowError('DEPLOY_FAILED', `the instance is ${this.state}; deploy once it runs`);
    const old = this.functions.get(req.id);
    const base = old ?? defaultFunction(req.id, req.source);
    // A different handler file is a different function to the user (resize deployed over uppercase
    // is "resize" in ps and top); a new version of the same file keeps the name.
    const sameFile = old && path.resolve(old.handler) === path.resolve(req.source);
    const taken = (n: string) => [...this.functions.values()].find((f) => f.id !== req.id && f.name === n);
    let name = req.name ?? (sameFile ? base.name : defaultFunction(req.id, req.source).name);
    const clash = taken(name);
    if (clash && req.name !== undefined) throw new FaasflowError('DEPLOY_FAILED', `function ${clash.id} is already named "${name}": pick another --name (names identify functions in ps, top and /metrics)`);
    // A name derived from the file may be another function's already (resize.ts deployed as id 2
    // next to the example resize as id 5): the id makes it unique.
    if (clash) name = `${name}-${req.id}`;
    const next: FnEntry = { ...base, name, handler: req.source, replicas: req.replicas ?? base.replicas, deployment: this.deployments.next(req.id), bundle: req.bundle, source: req.source, origin: 'deploy' };
    if (next.id >= this.cfg.segment.maxFunctions) throw new FaasflowError('DEPLOY_FAILED', `function id ${next.id} does not fit: ids go up to ${this.cfg.segment.maxFunctions - 1} (segment.maxFunctions)`);
    note(`starting ${next.replicas} replica(s) of ${next.name} deployment ${next.deployment}`);
    const fresh = Array.from({ length: next.replicas }, (_, r) => this.startContainer(next, r));
    const outcomes = await Promise.all(fresh.map((c) => c.outcome()));
    const bad = outcomes.find((o) => !o.ready);
    if (bad && !bad.ready) {
      await Promise.all(fresh.map((c) => c.stop()));
      this.dropContainers(fresh);
      throw new FaasflowError('DEPLOY_FAILED', `deployment ${next.deployment} of function ${next.id} did not start, nothing changed: ${bad.reason}`);
    }
    note(`${fresh.length} replica(s) ready; switching routes`);
    this.functions.set(next.id, next);
    try {
      await this.pushRoutes();
    } catch (err) {
      if (old) this.functions.set(old.id, old);
      else this.functions.delete(next.id);
      await Promise.all(fresh.map((c) => c.stop()));
      this.dropContainers(fresh);
      throw err;
    }
    this.deployments.save(this.functions.values());
    const retired = this.containers.filter((c) => c.spec.functionId === next.id && c.spec.deployment !== next.deployment);
    note(`routes switched; draining ${retired.length} old replica(s)`);
    const stopped = retired.map((c) => c.pid);
    await Promise.all(retired.map((c) => c.stop()));
    this.dropContainers(retired);
    if (old && old.bundle !== next.bundle && ![...this.functions.values()].some((f) => path.dirname(f.bundle) === path.dirname(old.bundle))) {
      fs.rmSync(path.dirname(old.bundle), { recursive: true, force: true });
    }
    this.writeState();
    this.info(`deployed function ${next.id} (${next.name}) deployment ${next.deployment} from ${next.source}`);
    return { id: next.id, name: next.name, deployment: next.deployment, previous: old?.deployment ?? null, replicas: next.replicas, stopped };
  }

  // ── periodic work ───────────────────────────────────────────────────────────────────────────
  private live(): Child[] {
    return [...this.gateways.filter(Boolean), ...this.containers];
  }

  /**
   * A container damaged its domain segment's header (it can write its own domain's segment, not
   * another's): the domain is rebuilt alone. Its containers are stopped, the segment is made anew,
   * the gateways map the new one (failing the requests they had in the old one with 502), and
   * fresh containers start. Nothing of the other domains is touched.
   */
  private checkDomains(): void {
    if (this.state !== 'running' || this.stopping) return;
    for (const d of this.domains.all()) {
      const why = this.domains.damage(d);
      if (why === undefined) continue;
      this.info(`domain ${d.name}: its segment ${d.segment.name} is damaged (${why}); rebuilding the domain`);
      void this.rebuildDomain(d.name);
    }
  }

  private rebuildDomain(name: string): Promise<void> {
    const run = this.busy.then(async () => {
      const d = this.domains.byName(name);
      if (!d || this.stopping) return;
      const members = this.containers.filter((c) => this.fnOf.get(c)?.domain === name);
      const again = members.filter((c) => c.running || c.state === 'crashed').map((c) => ({ f: this.fnOf.get(c)!, replica: c.spec.replica, restarts: c.restarts + 1 }));
      await Promise.all(members.map((c) => c.kill()));
      this.dropContainers(members);
      this.domains.rebuild(d);
      await this.pushRoutes().catch((err: Error) => this.info(`domain ${name}: ${err.message}`));
      for (const a of again) this.startContainer(a.f, a.replica, a.restarts);
      this.info(`domain ${name}: rebuilt with a fresh segment; ${again.length} container(s) restarted`);
      this.writeState();
    });
    this.busy = run.catch(() => undefined);
    return run;
  }

  private heartbeat(): void {
    this.checkDomains();
    if (!this.table) return;
    this.table.heartbeat(this.table.slotOf(process.pid));
    for (const c of this.live()) if (c.slot >= 0 && c.running) this.table.heartbeat(c.slot);
  }

  private reclaimDead(): void {
    for (const d of this.domains.all()) {
      if (d.segment.isClosed) continue;
      for (const [pid, n] of d.segment.pool.reclaimDead(pidAlive)) if (n) this.info(`domain ${d.name}: reclaimed ${n} packet(s) held by dead pid ${pid}`);
    }
  }

  /** Private memory past a function's memoryLimit: start a replacement, then drain the old one. */
  private enforceMemoryLimits(): void {
    for (const c of this.containers) {
      const f = this.functions.get(c.spec.functionId);
      if (!f || f.memoryLimit <= 0 || c.state !== 'ready' || c.stopping || f.deployment !== c.spec.deployment) continue;
      const m = sampleMemory(c.pid);
      if (!m || m.privateBytes <= f.memoryLimit) continue;
      this.replaceGracefully(c, f, `private memory ${m.privateBytes} B is over memoryLimit ${f.memoryLimit} B`);
    }
  }

  /** Starts a replacement, and only once it is ready drains and stops the old replica. */
  private replaceGracefully(c: Child, f: FnEntry, reason: string): void {
    c.stopping = true;
    this.logs.write(logFileFor('container', f.id), `${c.spec.id}[${c.pid}]`, `${reason}: replacing the replica gracefully`);
    const fresh = this.startContainer(f, c.spec.replica, c.restarts + 1);
    void fresh.outcome().then(async (o) => {
      // If the replacement cannot start, the old replica keeps serving; the next check retries.
      const [retire, keep] = o.ready ? [c, fresh] : [fresh, c];
      await retire.stop();
      keep.stopping = false;
      this.dropContainers([retire]);
      this.writeState();
    });
  }

  // ── control socket ──────────────────────────────────────────────────────────────────────────
  private async handle(req: ControlRequest, reply: Reply, closed: Promise<void>): Promise<unknown> {
    switch (req.cmd) {
      case 'status':
        return this.status(true);
      case 'events': {
        for (const e of this.history) reply({ type: 'event', event: e });
        const l = (e: SupervisorEvent) => reply({ type: 'event', event: e });
        this.listeners.add(l);
        await Promise.race([closed, this.stopped]);
        this.listeners.delete(l);
        return undefined;
      }
      case 'deploy':
        return this.deploy(req.fn, (message) => reply({ type: 'event', event: { kind: 'info', message, at: Date.now() } }));
      case 'down': {
        const pids = this.live().filter((c) => c.running).map((c) => c.pid);
        const l = (e: SupervisorEvent) => reply({ type: 'event', event: e });
        this.listeners.add(l);
        void this.shutdown('faasflow down', 0, req.timeoutMs);
        await this.stopped;
        this.listeners.delete(l);
        return { stopped: pids, segment: segmentName(this.cfg.instance), supervisorPid: process.pid };
      }
      default:
        throw new FaasflowError('CONTROL', `unknown control command ${JSON.stringify((req as { cmd?: unknown }).cmd)}`);
    }
  }

  status(withMemory: boolean): InstanceStatus {
    const names = new Map([...this.functions.values()].map((f) => [f.id, f.name]));
    return {
      instance: this.cfg.instance,
      supervisorPid: process.pid,
      startedAt: this.startedAt,
      state: this.state,
      host: this.cfg.gateway.host,
      port: this.port,
      segment: segmentName(this.cfg.instance),
      runtimeDir: this.paths.dir,
      configFile: this.cfg.file,
      children: [selfStatus(this.startedAt, withMemory), ...this.live().map((c) => childStatus(c, names, withMemory, this.fnOf.get(c)?.domain)).sort(byRoleAndFunction)],
      functions: [...this.functions.values()].map((f) => ({ id: f.id, name: f.name, source: f.source, bundle: f.bundle, deployment: f.deployment, replicas: f.replicas, origin: f.origin })),
    };
  }

  private writeState(): void {
    if (this.state === 'stopping' && !fs.existsSync(this.paths.state)) return;
    try {
      writeJsonAtomic(this.paths.state, this.status(false));
    } catch (err) {
      this.logs.write(logFileFor('supervisor'), `supervisor[${process.pid}]`, `cannot write ${this.paths.state}: ${(err as Error).message}`);
    }
  }

  /**
   * Every child's group was killed when it exited; a process a handler started that made a group
   * of its own is still in this session. Only when this process leads its session (as `faasflow
   * up` starts it): otherwise the session is someone else's, a terminal's say.
   */
  private killSession(): void {
    if (procStat(process.pid)?.session !== process.pid) return;
    const left = sessionMembers(process.pid).filter((pid) => pid !== process.pid && killQuietly(pid, 'SIGKILL'));
    if (left.length) this.info(`killed ${left.length} leftover process(es) in the supervisor's session: ${left.join(', ')}`);
  }

  // ── shutdown ────────────────────────────────────────────────────────────────────────────────
  /**
   * Drain first (the gateway stops taking requests and finishes in-flight ones while the
   * containers still run), then stop in reverse start order: containers, then the gateway.
   * The supervisor owns the segment, so a clean shutdown unlinks it.
   */
  shutdown(reason: string, code: number, timeoutMs = this.cfg.supervisor.shutdownTimeoutMs): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopping';
      this.info(`shutting down: ${reason}`);
      for (const t of this.timers) clearTimeout(t);
      this.writeState();
      const gatewayMs = timeoutMs + this.cfg.gateway.drainDelayMs;
      const gatewaysGone = Promise.all(this.gateways.filter((g) => g?.running).map((g) => g.stop(gatewayMs)));
      await Promise.race([gatewaysGone, new Promise((r) => setTimeout(r, gatewayMs))]);
      await Promise.all(this.containers.map((c) => c.stop(timeoutMs)));
      await gatewaysGone;
      this.killSession();
      const { segments, held } = this.domains.remove();
      if (this.seg) {
        this.seg.close();
        Segment.unlink(this.seg.name);
        segments.unshift(this.seg.name);
      }
      if (segments.length) this.info(`removed segment(s) ${segments.join(', ')}${held ? ` (${held} packet(s) were still in use)` : ''}`);
      for (const f of [this.paths.state, this.paths.config]) fs.rmSync(f, { force: true });
      this.emit({ kind: 'stopped', at: Date.now() });
      this.resolveStopped();
      await this.logs.close();
      // The process exits once every control connection has its answer (down's result).
      const server = this.server;
      const closed = new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
      fs.rmSync(this.paths.socket, { force: true });
      this.resolveDone(code);
    })();
    return this.stopping;
  }
}
