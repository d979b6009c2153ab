// The gateway: HTTP in, descriptors out. A request body is copied once, from the socket into a
// packet of its function's domain segment (intake.ts); the container reads it in place; the reply
// is written to the client straight from its packet. Routing and queueing (the proxy, dispatch.ts)
// run in this process: one hop to the container and one back (README, "Architecture"). A domain
// segment and the frames from its containers are untrusted: a lie there fails that request,
// nothing else.
import type { ClientRequest, ClientResponse } from '../http1/types.js';
import type { Segment } from '../../shm/segment.js';
import { NO_PACKET, type Frame } from '../../shm/frame.js';
import { FunctionStats, H_CONTAINER, H_REPLY } from '../../shm/stats.js';
import { FN_BYTES_OUT, FN_COPIED_BYTES, FN_COPIES, FN_INFLIGHT, FN_QUEUED, FN_REJECTED, FN_TIMEOUTS } from '../../shm/constants.js';
import { discard } from '../envelope.js';
import { FLAG_KEPT, FLAG_REUSED } from '../meta.js';
import { parseReply, respond, type ParsedReply } from './reply.js';
import type { ContainerReplica } from '../proxy/links.js';
import type { ResolvedConfig } from '../../config/types.js';
import { replyStatusMessage } from './errors.js';
import { log } from '../child.js';
import type { PollRecord } from '../spin.js';
import type { Domains } from './domains.js';
import { EXCHANGE, type Exchange, type WithExchange } from './exchange.js';
import { Intake, RETRY_AFTER } from './intake.js';
import { Flows } from './flow-host.js';
import { onInvoke, type InvokeHost } from './invoke-sink.js';
import { Dispatch } from './dispatch.js';

export type { DomainRoute } from './dispatch.js';

/** Extra time past a function's timeout before the gateway gives up on its container. */
const BACKSTOP_MS = 2000;
const SWEEP_MS = 100;

export class Gateway extends Dispatch {
  protected readonly intake: Intake;
  readonly flows: Flows;
  private readonly sweeper: NodeJS.Timeout;
  /** Called once per replica that let a request pass the backstop (see onTimeout). */
  onStuck: (r: ContainerReplica, reason: string) => void = () => undefined;

  constructor(
    runtime: Segment,
    domains: Domains,
    cfg: ResolvedConfig,
    /** This gateway's number: its block of function stats, and the stride of its request ids. */
    readonly index: number,
    /** This process's stats record, for the polling counts. */
    pollRecord?: PollRecord,
  ) {
    super(new FunctionStats(runtime, index), domains, cfg, pollRecord);
    // Gauges of a gateway that died (SIGKILL, crash) describe requests that no longer exist: this
    // gateway is the only writer of its block, so it starts them from zero.
    for (let id = 0; id < runtime.layout.maxFunctions; id++) {
      this.stats.set(id, FN_INFLIGHT, 0);
      this.stats.set(id, FN_QUEUED, 0);
    }
    this.intake = new Intake(this, index, Math.max(1, cfg.gateway.workers));
    this.flows = new Flows(this, cfg.flows);
    // One sweep for every deadline instead of a timer per request (a timer costs two linked-list
    // operations and an object on the hot path; timeouts are seconds, 100 ms of slack is fine).
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  private sweep(): void {
    if (this.pending.size === 0) return;
    const now = performance.now();
    for (const p of this.pending.snapshot()) if (now > p.deadline && !p.answered) this.onTimeout(p);
  }

  handle(req: ClientRequest, res: ClientResponse, fn: number, flow?: string): void {
    this.intake.take(req, res, fn, this.draining, flow);
  }

  startFlow(p: Exchange): void {
    this.flows.start(p);
  }

  /** The request is in its packet: it is this gateway's until the reply has been written. */
  submit(p: Exchange): void {
    this.pending.set(p.id, p);
    const g = this.guard(p.pool);
    g.inFlight.add(p.desc.index);
    if (p.metaDesc) g.inFlight.add(p.metaDesc.index);
    if (p.res) {
      p.res.on('close', onResponseClose);
      p.res[EXCHANGE] = p;
    }
    this.dispatch(p);
  }

  // ---- container side -------------------------------------------------------------------------

  onReply(f: Frame, r: ContainerReplica): void {
    const p = this.pending.get(f.requestId);
    const reused = (f.flags & FLAG_REUSED) !== 0;
    const pool = this.domains.get(r.domain)?.pool;
    if (!p || p.replica !== r || !pool) {
      // A reply nobody waits for (unknown id, or from the wrong container): free what it carries,
      // if it is ours: a lying container may name another request's packet.
      if (pool) discard(pool, f, reused, this.guard(pool));
      return;
    }
    if (f.flags & FLAG_KEPT) p.kept = true;
    r.outstanding--;
    this.router.pump(r.functionId, this.send);
    if (r.draining && r.outstanding === 0) r.link.close();
    p.tReply = performance.now();
    this.stats.record(p.fn, H_CONTAINER, Math.round((p.tReply - p.tSent) * 1000));
    if (p.answered) {
      // Timed out or the client left: nobody wants this reply any more.
      discard(pool, f, reused, this.guard(pool));
      return this.finish(p, 499);
    }
    if (f.index === NO_PACKET) return this.fail(p, f.status || 502, replyStatusMessage(f.status), f.status === 503 ? RETRY_AFTER : undefined);
    let reply: ParsedReply;
    try {
      reply = parseReply(pool, f, p.desc, this.guard(pool));
    } catch (err) {
      log('warn', `bad reply frame from pid ${r.pid}: ${(err as Error).message}`);
      discard(pool, f, reused, this.guard(pool));
      return this.fail(p, 502, `function ${p.fn} sent an unusable reply`);
    }
    this.stats.add(p.fn, FN_BYTES_OUT, f.length);
    if (p.sink) {
      // A flow step: the sink takes the reply packet before the exchange lets go of what it read
      // (a reply in the request's own packet is one of those).
      // Counted first: the sink may write the flow's answer, and a reader that saw it sees the count.
      p.answered = true;
      this.count(p, reply.status);
      p.sink.replied(p, reply);
      return this.finish(p, reply.status);
    }
    const refused = respond(p.res!, reply, p.id);
    if (refused !== undefined) {
      // A handler-supplied header Node refuses (bad characters): the client still gets an answer.
      if (!reused) this.intake.release(pool, reply.desc);
      return this.fail(p, 500, `function ${p.fn} set an invalid reply header: ${refused}`);
    }
    p.answered = true;
    // Its metadata packet, if it had one, is free already: only the body packet is left to free.
    p.reply = f.metaIndex === NO_PACKET ? f : { ...f, metaIndex: NO_PACKET };
    p.replyStatus = reply.status;
  }

  /** The response is done (sent, failed or the client left): release what it still holds. */
  onClose(p: Exchange): void {
    if (p.reply) {
      this.stats.record(p.fn, H_REPLY, Math.round((performance.now() - p.tReply) * 1000));
      const why = discard(p.pool, p.reply, (p.reply.flags & FLAG_REUSED) !== 0, this.guard(p.pool));
      if (why) log('warn', `could not free reply packets of request ${p.id}: ${why}`);
      p.reply = undefined;
      this.finish(p, p.replyStatus);
    } else if (!p.answered) {
      // Client gone: a queued request is dropped now; a dispatched one when its reply comes, and
      // its container hears it should stop.
      p.answered = true;
      if (!p.replica && this.router.unqueue(p.fn, p)) this.finish(p, 499);
      else this.cancel(p);
    }
  }

  onInvoke(f: Frame, r: ContainerReplica): void {
    onInvoke(this.invokeHost, f, r);
  }

  private readonly invokeHost: InvokeHost = {
    pending: (id) => this.pending.get(id), poolOfDomain: (d) => this.domains.get(d)?.pool, poolFor: (fn) => this.poolFor(fn), routes: () => this.router.routes(),
    guard: (pool) => this.guard(pool), takeId: () => this.takeId(), submit: (p) => this.submit(p), release: (pool, d) => this.release(pool, d), addInflight: (fn) => this.stats.add(fn, FN_INFLIGHT),
    copied: (fn, bytes) => (this.stats.add(fn, FN_COPIES), this.stats.add(fn, FN_COPIED_BYTES, bytes)), obtain: (...a) => this.memory.obtain(...a),
  };

  /** The requests of domain `index` cannot be completed (its segment was rebuilt): fail them. */
  failDomain(index: number, why: string): void {
    const old = this.domains.get(index)?.pool;
    if (old) this.memory.waits.dropPool(old);
    for (const p of this.pending.snapshot()) {
      if (p.pool !== this.domains.get(index)?.pool) continue;
      p.kept = true; // the old segment goes away with its packets: nothing to free
      this.fail(p, 502, why);
    }
  }

  // ---- endings --------------------------------------------------------------------------------

  private onTimeout(p: Exchange): void {
    if (p.answered) return;
    if (!p.replica && this.router.unqueue(p.fn, p)) return this.fail(p, 503, `no replica of function ${p.fn} became free in time`, RETRY_AFTER, FN_REJECTED);
    // The container still holds the request packet: keep it until the reply (or the container's
    // death) arrives, answer the client now. Its own timer would have answered 504 by now unless
    // its event loop is blocked (a synchronous loop in the handler): it gets no more work and the
    // supervisor is asked to replace it.
    const r = p.replica;
    // Only past the function's own timeout is its handler stuck: a flow's deadline may come first.
    if (r && !r.stuck && p.deadline >= this.deadlineFor(p.fn, p.t0)) {
      r.stuck = true;
      this.router.drain(r);
      this.onStuck(r, `request ${p.id} got no reply ${BACKSTOP_MS} ms past the ${this.router.route(p.fn)?.timeoutMs ?? 0} ms timeout: the handler is blocking its event loop`);
    }
    this.cancel(p);
    this.stats.add(p.fn, FN_TIMEOUTS);
    this.answer(p, 504, `function ${p.fn} did not answer within ${this.router.route(p.fn)?.timeoutMs ?? 0} ms`);
    this.count(p, 504);
  }

  deadlineFor(fn: number, t0: number): number {
    return t0 + (this.router.route(fn)?.timeoutMs ?? 30000) + BACKSTOP_MS;
  }
}

/** A response's 'close' listener, shared by all: its Exchange says which gateway to tell. */
function onResponseClose(this: WithExchange<ClientResponse>): void {
  const p = this[EXCHANGE];
  if (p) p.intake.closed(p);
}
