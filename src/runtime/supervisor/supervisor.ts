// The supervisor's lifecycle: creates the runtime segment, bundles the handlers, starts the gateways then the
// containers (each a startup step, as typed events), keeps them running (the pure policy decides restarts: wiring.ts),
// and shuts everything down in reverse. Deploys, the control socket, domain repair, replacements and spares: parts.ts.
import fs from 'node:fs';
import type net from 'node:net';
import { stop as stopEsbuild } from 'esbuild';
import type { ResolvedConfig } from '../../config/types.js';
import { bundleDirFor, logFileFor, type InstancePaths } from '../../common/paths.js';
import type { InstanceStatus } from '../../common/protocol.js';
import { readState } from '../../common/state.js';
import { createToken, fileId, removeIfSame, type FileId } from './control-auth.js';
import { serveControl } from './control-socket.js';
import { ProcessTable, Segment, segmentName } from '../../shm/index.js';
import { bundleHandler } from '../handler/bundle.js';
import type { Child } from './child.js';
import { Containers, settled } from './containers.js';
import { handleControl } from './control.js';
import { Deployments, pruneBundles, type FnEntry } from './deployments.js';
import { checkDomains } from './domain-repair.js';
import { Domains } from './domains.js';
import { Events } from './events.js';
import { Gateways } from './gateways.js';
import { QueueProcess } from './queue.js';
import { settledHealth } from './health.js';
import { LogFiles } from './logs.js';
import type { Parts } from './parts.js';
import { ReclaimReport } from './reclaim-report.js';
import { sweepDeadOwners } from './dead-owners.js';
import { enforceMemoryLimits } from './replace.js';
import { childSpecs } from './specs.js';
import { instanceStatus, writeStateFile } from './state-file.js';
import { killSession, stopChildren } from './stop.js';
import { adopt } from './wiring.js';
import { Scaler } from './scaler.js';
import { Spares } from './spares.js';
import { routesOf } from './routes.js';
import { HandlerChecker } from './checker.js';
import { missingSecretsError, secretsMissingFor } from '../../common/secrets.js';

export interface SupervisorOptions {
  cfg: ResolvedConfig;
  paths: InstancePaths;
  /** Also write every log line to this stream (`up --foreground`). */
  tee?: NodeJS.WritableStream;
  /** How `tee` gets the lines: as in the log files, or JSON lines. */
  teeFormat?: 'text' | 'json';
  modules: { gateway: string; container: string; queue: string };
}

/** The supervisor's own heartbeat in the process table, and the domain header check. */
const HEARTBEAT_MS = 1000;
/** How often packets of processes that died without being seen exit are reclaimed. */
const RECLAIM_MS = 5000;
/** How long a shutdown waits for control clients (down's result) before the process exits. */
const CLOSE_GRACE_MS = 2000;

export class Supervisor implements Parts {
  readonly cfg: ResolvedConfig;
  readonly paths: InstancePaths;
  readonly logs: LogFiles;
  readonly events: Events;
  readonly functions = new Map<number, FnEntry>();
  readonly deployments: Deployments;
  readonly domains: Domains;
  readonly gateways: Gateways;
  readonly containers: Containers;
  /** Sets the replicas of elastic functions (functions[].scale), once the instance runs. */
  scaler: Scaler | undefined;
  readonly queue: QueueProcess;
  readonly spares: Spares;
  private readonly log = (line: string) => this.logs.write(logFileFor('supervisor'), `supervisor[${process.pid}]`, line);
  readonly checker = new HandlerChecker(this.log); // the warm type check of deploys (control request "check")
  phase: InstanceStatus['state'] = 'starting';
  /** The runtime segment (process table and stats) and its process table. */
  private seg: Segment | undefined;
  table: ProcessTable | undefined;
  private server: net.Server | undefined;
  /**
   * The control socket, its token and the config file as this supervisor found or made them: a
   * shutdown removes each only while it is still that file (removeIfSame): a supervisor that
   * outlived its instance must not take a successor's. The state file is its own by the pid in it.
   */
  private readonly own: { socket?: FileId; token?: FileId; config?: FileId } = {};
  private readonly reclaims = new ReclaimReport();
  private readonly timers = new Set<NodeJS.Timeout>();
  private busy: Promise<unknown> = Promise.resolve();
  private stopping_: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  private resolveDone!: (code: number) => void;
  private readonly done = new Promise<number>((r) => (this.resolveDone = r));
  private resolveStopped!: () => void;
  readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(o: SupervisorOptions) {
    this.cfg = o.cfg;
    this.paths = o.paths;
    this.own.config = fileId(o.paths.config);
    this.logs = new LogFiles(o.paths.logs, o.cfg.logs, o.tee, o.teeFormat);
    this.events = new Events(this.logs, () => this.stopping);
    this.deployments = new Deployments(o.paths.deployments);
    this.domains = new Domains(o.cfg, o.paths.secrets);
    const specs = childSpecs(o.cfg, o.paths, o.modules);
    const wire = (c: Child) => adopt(this, c);
    this.gateways = new Gateways(o.cfg, specs, this.domains, wire, (m) => this.events.info(m));
    this.containers = new Containers(specs, this.domains, this.logs, wire);
    this.queue = new QueueProcess(o.cfg, specs, wire, (m) => this.events.info(m), () => this.writeState());
    this.spares = new Spares(this, specs);
  }

  get stopping(): boolean {
    return this.stopping_ !== undefined;
  }

  serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.busy.then(work);
    this.busy = run.catch(() => undefined);
    return run;
  }

  later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Runs until stopped; resolves with the process exit code. */
  async run(): Promise<number> {
    fs.mkdirSync(this.paths.bundles, { recursive: true, mode: 0o700 });
    const { token, id } = createToken(this.paths.token);
    this.own.token = id;
    const control = await serveControl(this.paths.socket, { token, log: this.log, handle: (req, reply, closed) => handleControl(this, req, reply, closed) });
    this.server = control.server;
    this.own.socket = control.id;
    this.writeState();
    try {
      await this.startAll();
    } catch (err) {
      this.events.emit({ kind: 'fatal', message: (err as Error).message, at: Date.now() });
      await this.shutdown(`startup failed: ${(err as Error).message}`, 1);
    }
    return this.done;
  }

  private async startAll(): Promise<void> {
    const { cfg, events } = this;
    const name = segmentName(cfg.instance);
    await events.step('segment', `creating ${name}`, () => {
      // Only the supervisor and the gateways (this user) can map it: no container ever can.
      this.seg = Segment.create({ name, kind: 'runtime', instance: cfg.instance, maxFunctions: cfg.segment.maxFunctions, fnWriters: cfg.gateway.workers, procSlots: cfg.segment.procSlots, mode: 0o600 });
      this.table = new ProcessTable(this.seg);
      this.table.setState(this.table.register(process.pid, 'supervisor'), 'ready');
      events.done('segment', `${name}: process table and stats of ${cfg.gateway.workers} gateway(s)`);
    });
    await events.step('handlers', `bundling ${cfg.functions.length} function(s)`, () => this.bundleConfigFunctions());
    await events.step('gateway', `starting ${cfg.gateway.workers} gateway(s) on ${cfg.gateway.host}:${cfg.gateway.port}`, async () => {
      // The async queue first: a gateway's first async request then finds it.
      await this.queue.start();
      await this.gateways.startAll();
      events.done('gateway', `${this.gateways.all().length} gateway(s) listening on http://${cfg.gateway.host}:${this.gateways.port}${cfg.gateway.admin ? `, admin on http://${cfg.gateway.admin.host}:${cfg.gateway.admin.port}` : ''} (pid ${this.gateways.all().map((g) => g.pid).join(', ')})`);
    });
    const replicas = [...this.functions.values()].reduce((a, f) => a + f.replicas, 0);
    await events.step('containers', `starting ${replicas} container(s)`, async () => {
      // The gateway learns the deployments first, so it accepts each container as it connects.
      await this.pushRoutes();
      for (const f of this.functions.values()) for (let r = 0; r < f.replicas; r++) this.containers.start(f, r);
      // A container that crash-loops is given up on by the policy; up then reports it and the
      // other functions serve. One that hangs while loading is not waited for past its first
      // ready timeout (its restarts would keep `up` for minutes): up reports it, it keeps trying.
      await Promise.all(this.containers.all().map(settled));
      const problems = this.containers.startupProblems();
      if (problems.length) events.done('containers', problems.join('; '), 'warn');
      else events.done('containers', `${this.containers.all().length} ready`);
    });
    await events.step('health', `GET /healthz`, async () => {
      const unready = () => new Set([...this.functions.values()].filter((f) => f.scale?.min !== 0 && !this.containers.of(f.id, f.deployment).some((c) => c.state === 'ready')).map((f) => f.id));
      // With gateway.admin, /healthz is there (the public port answers 404 for it).
      const at = cfg.gateway.admin ?? { host: cfg.gateway.host, port: this.gateways.port };
      const h = await settledHealth(at.host, at.port, unready);
      if (h.ok) events.done('health', `GET /healthz: ok, ${h.routed} function(s) routed`);
      else events.done('health', `GET /healthz: 503, not ready: ${h.notReady.length} of ${h.routed} function(s) have no ready replica: ${h.notReady.map((f) => `${f.id} (${f.name}): ${f.reason}`).join('; ')}`, 'warn');
    });
    this.phase = 'running';
    this.writeState();
    this.every(HEARTBEAT_MS, () => this.heartbeat());
    this.every(RECLAIM_MS, () => this.reclaimDead());
    if ([...this.functions.values()].some((f) => f.memoryLimit > 0)) this.every(cfg.observe.sampleIntervalMs, () => enforceMemoryLimits(this));
    if (this.seg && [...this.functions.values()].some((f) => f.scale)) (this.scaler = new Scaler(this, this.seg)).run((fn, ms) => this.later(fn, ms));
    events.emit({ kind: 'running', port: this.gateways.port, host: cfg.gateway.host, at: Date.now() });
    this.logs.startTee();
    this.checker.warm([...this.functions.values()].map((f) => f.source));
  }

  private every(ms: number, fn: () => void): void { this.timers.add(setInterval(fn, ms)); }

  private async bundleConfigFunctions(): Promise<void> {
    for (const f of this.cfg.functions) {
      const deployment = this.deployments.next(f.id);
      const { file } = await bundleHandler(f.handler, bundleDirFor(this.paths, f.id, deployment));
      this.functions.set(f.id, { ...f, deployment, bundle: file, source: f.handler, origin: 'config' });
    }
    const deployed: string[] = [];
    for (const d of this.deployments.persisted) {
      this.functions.set(d.id, d);
      deployed.push(`${d.id}`);
      this.events.info(`function ${d.id} (${d.name}): serving deployment ${d.deployment} from \`faasflow deploy\` of ${d.source}`);
    }
    // esbuild keeps a service process alive for the next build; the supervisor builds only here.
    await stopEsbuild();
    const missing = secretsMissingFor(this.paths.secrets, this.functions.values());
    if (missing.length) throw missingSecretsError(missing);
    this.deployments.save(this.functions.values());
    pruneBundles(this.paths.bundles, [...this.functions.values()].map((f) => f.bundle));
    this.domains.ensure([...this.functions.values()]);
    const domains = this.domains.describe().map((d) => `${d.name} (${d.enforcement})`).join(', ');
    for (const d of this.domains.describe()) this.events.info(`domain ${d.name}: segment ${d.segment}, isolation ${d.enforcement}, runs as ${d.user}, cgroups ${d.cgroups}`);
    for (const n of this.domains.notes.splice(0)) this.events.info(n);
    this.events.done('handlers', `${this.functions.size} function(s): ${[...this.functions.values()].map((f) => `${f.id}=${f.name}`).join(', ')}${deployed.length ? ` (${deployed.join(', ')} as last deployed by \`faasflow deploy\`)` : ''}; domains: ${domains || 'none'}`);
  }

  pushRoutes(): Promise<void> { return this.gateways.pushRoutes(routesOf(this)); }

  private heartbeat(): void {
    checkDomains(this);
    if (!this.table) return;
    this.table.heartbeat(this.table.slotOf(process.pid));
    for (const c of this.children()) if (c.slot >= 0 && c.running) this.table.heartbeat(c.slot);
  }

  private children(): Child[] { return [...this.gateways.all(), ...this.queue.all(), ...this.containers.all(), ...this.spares.all().map((sp) => sp.c)]; }

  /** Packets of owners that died unseen (not children whose exit is pending: dead-owners.ts); its log lines are bounded. */
  private reclaimDead(): void {
    for (const line of sweepDeadOwners(this.domains.all(), this.children(), this.reclaims)) this.events.info(line);
  }

  status(withMemory: boolean): InstanceStatus { return instanceStatus(this, this.startedAt, withMemory); }

  writeState(): void {
    writeStateFile(this, () => this.status(false));
  }

  /**
   * Drain first (the gateways stop taking requests and finish in-flight ones while the containers
   * still run), then stop in reverse start order: containers, then the gateways. The supervisor
   * owns the segments, so a clean shutdown unlinks them.
   */
  shutdown(reason: string, code: number, timeoutMs?: number): Promise<void> {
    this.stopping_ ??= (async () => {
      // A step that throws (a directory it cannot remove, a full disk) is reported and the stop goes
      // on: the segments, the state file and the socket are still removed, and the process ends.
      let failed = 0;
      const step = (what: string, f: () => unknown): Promise<void> => Promise.resolve().then(f).then(() => undefined, (err: unknown) => {
        failed++;
        process.stderr.write(`faasflow supervisor: stopping: ${what} failed: ${(err as Error).stack ?? String(err)}\n`);
      });
      this.phase = 'stopping';
      await step('logging the stop', () => this.events.info(`shutting down: ${reason}`));
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      await step('stopping the type checker', () => this.checker.close());
      await step('writing the state file', () => this.writeState());
      await step('stopping the processes', () => stopChildren(this, timeoutMs));
      await step('killing leftover processes', () => killSession(this.events));
      await step('removing the domains', () => {
        const { segments, held, failed: left } = this.domains.remove();
        for (const f of left) this.events.info(`could not remove ${f}`);
        if (this.seg) {
          this.seg.close();
          if (Segment.exists(this.seg.name)) { // someone else (a user's rm) may have removed it
            Segment.unlink(this.seg.name);
            segments.unshift(this.seg.name);
          }
        }
        if (segments.length) this.events.info(`removed segment(s) ${segments.join(', ')}${held ? ` (${held} packet(s) were still in use)` : ''}`);
      });
      await step('removing the state file', () => {
        if (readState(this.paths.state)?.supervisorPid === process.pid) fs.rmSync(this.paths.state, { force: true });
        removeIfSame(this.paths.config, this.own.config);
      });
      await step('reporting the stop', () => this.events.emit({ kind: 'stopped', at: Date.now() }));
      this.resolveStopped();
      await step('closing the logs', () => this.logs.close());
      // The process exits once every control connection has its answer (down's result).
      const server = this.server;
      const closed = new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      await Promise.race([closed, new Promise((r) => setTimeout(r, CLOSE_GRACE_MS))]);
      await step('removing the control socket', () => {
        removeIfSame(this.paths.socket, this.own.socket);
        removeIfSame(this.paths.token, this.own.token);
      });
      this.resolveDone(failed ? 1 : code);
    })().catch((err: unknown) => {
      process.stderr.write(`faasflow supervisor: the stop failed: ${(err as Error).stack ?? String(err)}\n`);
      this.resolveDone(1);
    });
    return this.stopping_;
  }
}
