// The gateway's routing side: which container replica a request goes to (the router), when it
// goes (at once, or queued until a replica is free or ready), and what happens to requests when
// replicas arrive, drain or go. The Gateway (gateway.ts) builds on this with what a request's
// client and a container's replies need.
import type { PacketPool } from '../../shm/pool.js';
import type { FunctionStats } from '../../shm/stats.js';
import { H_QUEUE } from '../../shm/stats.js';
import { FN_QUEUED, FN_REJECTED } from '../../shm/constants.js';
import { FrameType, NO_PACKET } from '../../shm/frame.js';
import { Router } from '../proxy/router.js';
import type { ContainerReplica } from '../proxy/links.js';
import type { Route } from '../protocol.js';
import type { ResolvedConfig } from '../../config/types.js';
import { Spinner, type PollRecord } from '../spin.js';
import type { Domains } from './domains.js';
import type { Exchange } from './exchange.js';
import { RETRY_AFTER } from './intake.js';
import { Ledger } from './ledger.js';
import { GatewayMemory } from './memory.js';

/** Demand for a function still without a replica is signalled again after this long (a lost message, a supervisor busy with a deploy). */
const DEMAND_RESEND_MS = 50;

/** A route as the supervisor sends it: which domain's segment the function's packets go in. */
export type DomainRoute = Route;

export abstract class Dispatch extends Ledger {
  readonly router: Router<Exchange, ContainerReplica['link']>;
  /** Requests, calls and flow steps waiting for their domain's packet memory. */
  readonly memory: GatewayMemory;
  /** Requests one replica of a function works on at once. */
  private readonly concurrency: (fn: number) => number;
  /** Tells the supervisor a request waits for function `fn`, which has no replica here (main.ts sends it). */
  onDemand: (fn: number) => void = () => undefined;
  /** When each function's demand was last signalled. */
  private readonly demanded = new Map<number, number>();

  constructor(
    stats: FunctionStats,
    readonly domains: Domains,
    readonly cfg: ResolvedConfig,
    /** This process's stats record, for the polling counts. */
    private readonly pollRecord?: PollRecord,
  ) {
    super(stats);
    const concurrency = new Map(cfg.functions.map((f) => [f.id, f.concurrency]));
    this.concurrency = (id) => this.router.route(id)?.concurrency ?? concurrency.get(id) ?? 1;
    this.router = new Router((id) => concurrency.get(id) ?? 1, cfg.proxy.queueLimit);
    const domainOf = (pool: PacketPool) => this.domains.all().find((d) => d.pool === pool)?.name ?? '?';
    this.memory = new GatewayMemory({ stats: this.stats, cfg, domainOf, queuedChanged: (fn) => this.stats.set(fn, FN_QUEUED, this.queued(fn)) });
  }

  /**
   * A container's link arrived, before its hello. When its function has requests waiting and no
   * replica here (a cold start), up to its concurrency of them go on the link now: they wait there
   * while the container loads its handler, which reads them as soon as it has, instead of its hello
   * coming here first and the requests going back (a round trip less). Were it to exit before its
   * hello, they fail with 502 as a replica's in flight do (onGone); none goes to another replica:
   * the container may have read, or freed, their packets.
   */
  replicaLinked(r: ContainerReplica): void {
    const route = this.router.route(r.functionId);
    if (!route || route.unavailable || route.deployment !== r.deployment || this.router.ready(r.functionId).length > 0) return;
    for (const p of this.router.takeQueued(r.functionId, this.concurrency(r.functionId))) {
      r.outstanding++;
      this.send(p, r);
    }
  }

  /** A container said hello: it takes work now, queued requests first. */
  replicaReady(r: ContainerReplica): void {
    // Poll for a reply only when it is the one thing this gateway waits for: with other requests
    // in flight, the event loop has their bodies and replies to handle meanwhile (measured: at 32
    // connections, spinning there cost 25 % more CPU per request and lost throughput).
    const budget = this.cfg.spinMicros;
    if (budget > 0) r.link.spinWith(new Spinner(budget, () => this.pending.size === 1 && r.outstanding === 1, this.pollRecord));
    this.router.addReplica(r);
    this.router.pump(r.functionId, this.send);
  }

  setRoutes(routes: DomainRoute[]): void {
    for (const p of this.router.setRoutes(routes)) {
      const down = this.router.route(p.fn)?.unavailable;
      if (down) this.fail(p, 503, down, RETRY_AFTER, FN_REJECTED);
      else this.fail(p, 404, `function ${p.fn} was removed`);
    }
    for (const r of routes) this.router.pump(r.id, this.send);
  }

  /** Requests queued for function `fn`: waiting for a replica, or for their domain's memory. */
  queued(fn: number): number {
    return this.router.queued(fn) + this.memory.waits.of(fn);
  }

  /** The domain segment a function's packets go in, if it is mapped. */
  poolFor(fn: number) {
    const route = this.router.route(fn) as DomainRoute | undefined;
    return route ? this.domains.get(route.domain ?? 0)?.pool : undefined;
  }

  timeoutOf(fn: number): number | undefined {
    return this.router.route(fn)?.timeoutMs;
  }

  /**
   * A request waits for a function with no replica here (at zero, or its replicas not linked yet):
   * the supervisor hears it at once instead of at its next sample. Once per DEMAND_RESEND_MS per
   * function at most: the first one wakes the scaler, later ones only cover a lost one.
   */
  private demand(fn: number): void {
    const now = performance.now();
    if (now - (this.demanded.get(fn) ?? -Infinity) < DEMAND_RESEND_MS) return;
    this.demanded.set(fn, now);
    this.onDemand(fn);
  }

  /** Hands `p` to a replica with a free slot, or queues it (bounded), or fails it. */
  protected dispatch(p: Exchange): void {
    const d = this.router.dispatch(p.fn, p);
    if (d.kind === 'sent') this.send(p, d.replica);
    else if (d.kind === 'queued') {
      this.stats.set(p.fn, FN_QUEUED, this.queued(p.fn));
      if (this.router.ready(p.fn).length === 0) this.demand(p.fn);
    }
    else if (d.kind === 'unavailable') this.fail(p, 503, d.reason, RETRY_AFTER, FN_REJECTED);
    else if (d.kind === 'full') this.fail(p, 503, `function ${p.fn} has ${this.cfg.proxy.queueLimit} requests queued: retry shortly`, RETRY_AFTER, FN_REJECTED);
    else this.fail(p, 404, `no function with id ${p.fn}`);
  }

  protected readonly send = (p: Exchange, r: ContainerReplica): void => {
    p.replica = r;
    p.tSent = performance.now();
    this.stats.record(p.fn, H_QUEUE, Math.round((p.tSent - p.t0) * 1000));
    this.stats.set(p.fn, FN_QUEUED, this.queued(p.fn));
    r.link.send(p.frame!);
  };

  /** Tells the container working on `p` that nobody wants the answer any more. */
  cancel(p: Exchange): void {
    const r = p.replica;
    if (r && !r.link.closed && p.frame) r.link.send({ ...p.frame, type: FrameType.Cancel, index: NO_PACKET, generation: 0, length: 0, metaLength: 0, metaIndex: NO_PACKET, metaGeneration: 0 });
    // Down the calls its handler made: a callee that listens to ctx.signal stops too.
    if (p.calls) for (const c of p.calls) this.cancel(c);
  }

  onDrain(r: ContainerReplica): void {
    this.router.drain(r);
    if (r.outstanding === 0) r.link.close();
  }

  /** A container link closed: its in-flight requests fail with 502 (or quietly, if answered). */
  onGone(r: ContainerReplica): void {
    this.router.removeReplica(r);
    const lost = this.pending.snapshot().filter((p) => p.replica === r);
    const pool = this.domains.get(r.domain)?.pool;
    if (lost.length && pool) this.freeHandedOver(pool, lost);
    for (const p of lost) this.fail(p, 502, `function ${p.fn} (replica ${r.replica}, pid ${r.pid}) exited while handling the request`);
    this.router.pump(r.functionId, this.send);
  }
}
