// The gateway: HTTP in, descriptors out. A request body is copied once, from the socket into a
// packet; the container reads it in place; the reply is written to the client straight from its
// packet. Routing and queueing (the proxy) run in this process: one hop to the container and one
// back, instead of four (see README, "Architecture").
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Segment } from '../../shm/segment.js';
import { isExhausted, type Descriptor, type PacketPool } from '../../shm/pool.js';
import { FrameType, NO_PACKET, type Frame } from '../../shm/frame.js';
import { FunctionStats, H_CONTAINER, H_QUEUE, H_REPLY, H_TOTAL } from '../../shm/stats.js';
import { FN_2XX, FN_4XX, FN_5XX, FN_BYTES_IN, FN_BYTES_OUT, FN_INFLIGHT, FN_QUEUED, FN_REJECTED, FN_REQUESTS, FN_TIMEOUTS } from '../../shm/constants.js';
import { FLAG_KEPT, FLAG_REUSED, contentTypeOf, metaView, placeMeta, readReplyMeta, requestMeta } from '../meta.js';
import { Router } from '../proxy/router.js';
import type { ContainerReplica } from '../proxy/server.js';
import type { Route } from '../protocol.js';
import type { ResolvedConfig } from '../../config/types.js';
import { replyStatusMessage, sendError } from './errors.js';
import { log } from '../child.js';
import { Spinner, type PollRecord } from '../spin.js';

/** Extra time past a function's timeout before the gateway gives up on its container. */
const BACKSTOP_MS = 2000;
const SWEEP_MS = 100;
const RETRY_AFTER = { 'retry-after': '1' };

interface Pending {
  id: number;
  fn: number;
  res: ServerResponse;
  desc: Descriptor;
  metaDesc?: Descriptor;
  frame: Frame;
  t0: number;
  tSent: number;
  /** performance.now() when the reply descriptor arrived. */
  tReply: number;
  replica?: ContainerReplica;
  /** performance.now() past which the gateway stops waiting for the container. */
  deadline: number;
  /** The reply being written to the client, freed when the response closes. */
  reply?: Frame;
  replyStatus: number;
  /** The client has its answer (or is gone): a late reply is only freed. */
  answered: boolean;
  /** Counted in the function's stats (once, whatever happens after). */
  counted: boolean;
  /** The container kept the request's packets (its handler outlived the timeout): not ours to free. */
  kept?: boolean;
  bytesIn: number;
}

export class Gateway {
  readonly pool: PacketPool;
  readonly router: Router<Pending, ContainerReplica['link']>;
  private readonly stats: FunctionStats;
  private readonly pending = new Map<number, Pending>();
  private readonly cfg: ResolvedConfig;
  private nextId = 1;
  private draining = false;
  /** Requests whose body is still arriving: in flight for a drain, though no container has them. */
  private receiving = 0;
  private idle: (() => void) | undefined;
  private readonly sweeper: NodeJS.Timeout;
  /** Called once per replica that let a request pass the backstop (see onTimeout). */
  onStuck: (r: ContainerReplica, reason: string) => void = () => undefined;

  constructor(
    seg: Segment,
    cfg: ResolvedConfig,
    /** This process's stats record, for the polling counts. */
    private readonly pollRecord?: PollRecord,
  ) {
    this.pool = seg.pool;
    this.cfg = cfg;
    this.stats = new FunctionStats(seg);
    // Gauges of a gateway that died (SIGKILL, crash) describe requests that no longer exist: this
    // gateway is the only writer of them, so it starts them from zero.
    for (let id = 0; id < seg.layout.maxFunctions; id++) {
      this.stats.set(id, FN_INFLIGHT, 0);
      this.stats.set(id, FN_QUEUED, 0);
    }
    const concurrency = new Map(cfg.functions.map((f) => [f.id, f.concurrency]));
    this.router = new Router((id) => concurrency.get(id) ?? 1, cfg.proxy.queueLimit);
    // One sweep for every deadline instead of a timer per request (a timer costs two linked-list
    // operations and an object on the hot path; timeouts are seconds, 100 ms of slack is fine).
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  private sweep(): void {
    const now = performance.now();
    for (const p of this.pending.values()) if (now > p.deadline && !p.answered) this.onTimeout(p);
  }

  get inFlight(): number {
    return this.pending.size;
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

  setRoutes(routes: Route[]): void {
    for (const p of this.router.setRoutes(routes)) {
      const down = this.router.route(p.fn)?.unavailable;
      if (down) this.fail(p, 503, down, RETRY_AFTER, FN_REJECTED);
      else this.fail(p, 404, `function ${p.fn} was removed`);
    }
    for (const r of routes) this.router.pump(r.id, this.send);
  }

  // ---- HTTP side ------------------------------------------------------------------------------

  /** A request id for every response, errors included, so any answer can be traced in the logs. */
  takeId(): number {
    const id = this.nextId;
    this.nextId = id >= 0xfffffffe ? 1 : id + 1;
    return id;
  }

  /**
   * Answers a request that never reached a container (refused, too large, bad body) and counts it
   * for its function, so requests = 2xx + 4xx + 5xx holds for every function.
   */
  private refuse(res: ServerResponse, fn: number, id: number, status: number, message: string, counter?: number, extra?: Record<string, unknown>, headers?: Record<string, string>): void {
    sendError(res, status, message, { ...extra, requestId: id }, { ...headers, 'x-request-id': String(id) });
    const s = this.stats;
    s.add(fn, FN_REQUESTS);
    s.add(fn, status < 500 ? FN_4XX : FN_5XX);
    if (counter !== undefined) s.add(fn, counter);
  }

  handle(req: IncomingMessage, res: ServerResponse, fn: number): void {
    const id = this.takeId();
    const route = this.router.route(fn);
    if (!route) {
      req.resume();
      return sendError(res, 404, `no function with id ${fn}`, { requestId: id, functions: this.router.routes().map((r) => ({ id: r.id, name: r.name })) }, { 'x-request-id': String(id) });
    }
    if (this.draining) {
      req.resume();
      return this.refuse(res, fn, id, 503, 'the gateway is shutting down', FN_REJECTED, undefined, { ...RETRY_AFTER, connection: 'close' });
    }
    const cl = req.headers['content-length'];
    const known = cl !== undefined ? Number(cl) : -1;
    if (known > this.pool.maxPacket) {
      // Refused before the body is read: no "100 Continue", and the connection closes so the body
      // is not uploaded for nothing.
      res.shouldKeepAlive = false;
      return this.refuse(res, fn, id, 413, `body of ${known} bytes is larger than the largest packet (${this.pool.maxPacket} bytes)`, undefined, { limit: this.pool.maxPacket });
    }
    const t0 = performance.now();
    const q = req.url!.indexOf('?');
    const meta = requestMeta(q < 0 ? '' : req.url!.slice(q + 1), req.rawHeaders);
    const metaLength = Buffer.byteLength(meta);
    let desc = this.alloc(Math.max(known, 0), metaLength);
    if (desc === null) {
      req.resume();
      return this.refuse(res, fn, id, 503, 'the shared-memory pool is exhausted: retry shortly', FN_REJECTED, undefined, RETRY_AFTER);
    }
    // A client that sent "Expect: 100-continue" may send its body now.
    if (req.headers.expect) res.writeContinue();
    let view = this.pool.view(desc);
    let written = 0;
    this.stats.add(fn, FN_INFLIGHT);
    this.receiving++;
    // Exactly once per request: the body is in (submitted), refused, or the client left.
    const done = () => {
      if (desc) this.release(desc);
      desc = null;
      this.stats.add(fn, FN_INFLIGHT, -1);
      this.receiving--;
      this.checkIdle();
    };
    req.on('data', (chunk: Buffer) => {
      if (!desc) return;
      if (written + chunk.length > view.length) {
        // Chunked (or lying) body outgrew its packet: move to a bigger one, once per class.
        const bigger = written + chunk.length <= this.pool.maxPacket ? this.alloc(Math.max(written + chunk.length, view.length * 4), 0) : null;
        if (bigger === null) {
          const tooBig = written + chunk.length > this.pool.maxPacket;
          done();
          res.shouldKeepAlive = false;
          if (tooBig) this.refuse(res, fn, id, 413, `body is larger than the largest packet (${this.pool.maxPacket} bytes)`, undefined, { limit: this.pool.maxPacket });
          else this.refuse(res, fn, id, 503, 'the shared-memory pool is exhausted: retry shortly', FN_REJECTED, undefined, RETRY_AFTER);
          return;
        }
        const next = this.pool.view(bigger);
        next.set(view.subarray(0, written));
        this.release(desc);
        desc = bigger;
        view = next;
      }
      view.set(chunk, written);
      written += chunk.length;
    });
    req.on('end', () => {
      if (!desc) return;
      if (known >= 0 && written !== known) {
        done();
        return this.refuse(res, fn, id, 400, `body was ${written} bytes but Content-Length said ${known}`);
      }
      const body = desc;
      desc = null;
      this.receiving--;
      this.submit(fn, id, res, body, written, meta, metaLength, t0);
    });
    // A client that disconnects (or is timed out by gateway.requestTimeout) before its body is
    // complete: nothing of the request remains.
    req.on('close', () => {
      if (desc && !req.complete) done();
    });
  }

  /** A packet for `length` body bytes plus `metaLength` bytes of metadata when they fit. */
  private alloc(length: number, metaLength: number): Descriptor | null {
    let d = this.pool.alloc(length + metaLength);
    if (isExhausted(d) && d.reason === 'too-large') d = this.pool.alloc(length);
    return isExhausted(d) ? null : d;
  }

  private submit(fn: number, id: number, res: ServerResponse, desc: Descriptor, length: number, meta: string, metaLength: number, t0: number): void {
    const placed = placeMeta(this.pool, desc, length, meta, metaLength);
    if (!placed) {
      this.release(desc);
      this.stats.add(fn, FN_INFLIGHT, -1);
      this.refuse(res, fn, id, 503, 'the shared-memory pool is exhausted: retry shortly', FN_REJECTED, undefined, RETRY_AFTER);
      return this.checkIdle();
    }
    this.pool.label(desc, fn, id, length, placed.metaLength);
    const frame: Frame = {
      type: FrameType.Request, flags: 0, index: desc.index, generation: desc.generation, length, metaLength: placed.metaLength,
      functionId: fn, requestId: id, status: 0, metaIndex: placed.metaIndex, metaGeneration: placed.metaGeneration,
    };
    const deadline = t0 + (this.router.route(fn)?.timeoutMs ?? 30000) + BACKSTOP_MS;
    const p: Pending = { id, fn, res, desc, metaDesc: placed.metaDesc, frame, t0, tSent: 0, tReply: 0, deadline, replyStatus: 0, answered: false, counted: false, bytesIn: length };
    this.pending.set(id, p);
    res.once('close', () => this.onClose(p));
    const d = this.router.dispatch(fn, p);
    if (d.kind === 'sent') this.send(p, d.replica);
    else if (d.kind === 'queued') this.stats.set(fn, FN_QUEUED, this.router.queued(fn));
    else if (d.kind === 'unavailable') this.fail(p, 503, d.reason, RETRY_AFTER, FN_REJECTED);
    else if (d.kind === 'full') this.fail(p, 503, `function ${fn} has ${this.cfg.proxy.queueLimit} requests queued: retry shortly`, RETRY_AFTER, FN_REJECTED);
    else this.fail(p, 404, `no function with id ${fn}`);
  }

  private readonly send = (p: Pending, r: ContainerReplica): void => {
    p.replica = r;
    p.tSent = performance.now();
    this.stats.record(p.fn, H_QUEUE, Math.round((p.tSent - p.t0) * 1000));
    this.stats.set(p.fn, FN_QUEUED, this.router.queued(p.fn));
    r.link.send(p.frame);
  };

  // ---- container side -------------------------------------------------------------------------

  onReply(f: Frame, r: ContainerReplica): void {
    const p = this.pending.get(f.requestId);
    const reused = (f.flags & FLAG_REUSED) !== 0;
    if (!p || p.replica !== r) {
      // A reply nobody waits for (unknown id, or from the wrong container): free what it carries.
      this.freeReply(f, reused);
      return;
    }
    if (f.flags & FLAG_KEPT) p.kept = true;
    r.outstanding--;
    this.router.pump(r.functionId, this.send);
    if (r.draining && r.outstanding === 0) r.link.close();
    const tReply = performance.now();
    p.tReply = tReply;
    this.stats.record(p.fn, H_CONTAINER, Math.round((tReply - p.tSent) * 1000));
    if (p.answered) {
      // Timed out or the client left: nobody wants this reply any more.
      this.freeReply(f, reused);
      this.finish(p, 499);
      return;
    }
    if (f.index === NO_PACKET) {
      this.fail(p, f.status || 502, replyStatusMessage(f.status), f.status === 503 ? RETRY_AFTER : undefined);
      return;
    }
    let desc: Descriptor;
    let headers: Record<string, string | number>;
    try {
      desc = reused ? p.desc : this.pool.describe(f.index, f.generation);
      if (f.length > desc.capacity) throw new Error(`reply length ${f.length} exceeds its packet`);
      const ct = contentTypeOf(f.flags);
      headers = f.metaLength ? readReplyMeta(metaView(this.pool, f, desc)).h : ct ? { 'content-type': ct } : {};
    } catch (err) {
      log('warn', `bad reply frame from pid ${r.pid}: ${(err as Error).message}`);
      this.freeReply(f, reused);
      this.fail(p, 502, `function ${p.fn} sent an unusable reply`);
      return;
    }
    const res = p.res;
    const status = f.status >= 100 && f.status <= 599 ? f.status : 200;
    headers['content-length'] = f.length;
    headers['x-request-id'] = p.id;
    try {
      res.writeHead(status, headers);
    } catch (err) {
      // A handler-supplied header Node refuses (bad characters): the client still gets an answer.
      this.freeReply(f, reused);
      this.fail(p, 500, `function ${p.fn} set an invalid reply header: ${(err as Error).message}`);
      return;
    }
    p.answered = true;
    p.reply = f;
    p.replyStatus = status;
    this.stats.add(p.fn, FN_BYTES_OUT, f.length);
    // The body goes to the socket straight from the segment; its packets are freed on 'close'.
    res.end(this.pool.view(desc, f.length));
  }

  /** The response is done (sent, failed or the client left): release what it still holds. */
  private onClose(p: Pending): void {
    if (p.reply) {
      this.stats.record(p.fn, H_REPLY, Math.round((performance.now() - p.tReply) * 1000));
      this.freeReply(p.reply, (p.reply.flags & FLAG_REUSED) !== 0);
      p.reply = undefined;
      this.finish(p, p.replyStatus);
    } else if (!p.answered) {
      // Client gone: a queued request is dropped now; a dispatched one when its reply comes.
      p.answered = true;
      if (!p.replica && this.router.unqueue(p.fn, p)) this.finish(p, 499);
    }
  }

  /**
   * Frees a packet this process holds. A failure here means the pool was changed under us (a bug
   * or a hostile peer); it is logged, and the request path carries on: one bad packet must not
   * take the gateway down.
   */
  private release(d: Descriptor): void {
    try {
      this.pool.free(d);
    } catch (err) {
      log('error', `could not free packet ${d.index}: ${(err as Error).message}`);
    }
  }

  private freeReply(f: Frame, reused: boolean): void {
    try {
      if (!reused && f.index !== NO_PACKET) this.pool.free(this.pool.describe(f.index, f.generation));
      if (f.metaIndex !== NO_PACKET) this.pool.free(this.pool.describe(f.metaIndex, f.metaGeneration));
    } catch (err) {
      log('warn', `could not free reply packets of request ${f.requestId}: ${(err as Error).message}`);
    }
  }

  onDrain(r: ContainerReplica): void {
    this.router.drain(r);
    if (r.outstanding === 0) r.link.close();
  }

  /** A container connection closed: its in-flight requests fail with 502 (or quietly, if answered). */
  onGone(r: ContainerReplica): void {
    this.router.removeReplica(r);
    const lost: Pending[] = [];
    for (const p of this.pending.values()) if (p.replica === r) lost.push(p);
    if (lost.length) {
      // Reply packets it handed over just before dying carry the request id: free those too.
      const ids = new Set(lost.map((p) => p.id));
      for (const h of this.pool.held()) {
        if (h.owner === process.pid && ids.has(h.requestId) && !lost.some((p) => p.desc.index === h.index || p.metaDesc?.index === h.index)) {
          try {
            this.pool.free(this.pool.describe(h.index, h.generation));
          } catch {
            // freed concurrently
          }
        }
      }
    }
    for (const p of lost) this.fail(p, 502, `function ${p.fn} (replica ${r.replica}, pid ${r.pid}) exited while handling the request`);
    this.router.pump(r.functionId, this.send);
  }

  // ---- endings --------------------------------------------------------------------------------

  private onTimeout(p: Pending): void {
    if (p.answered) return;
    if (!p.replica && this.router.unqueue(p.fn, p)) {
      this.fail(p, 503, `no replica of function ${p.fn} became free in time`, RETRY_AFTER, FN_REJECTED);
      return;
    }
    // The container still holds the request packet: keep it until the reply (or the container's
    // death) arrives, answer the client now. Its own timer would have answered 504 by now unless
    // its event loop is blocked (a synchronous loop in the handler): it gets no more work and the
    // supervisor is asked to replace it.
    const r = p.replica;
    if (r && !r.stuck) {
      r.stuck = true;
      this.router.drain(r);
      this.onStuck(r, `request ${p.id} got no reply ${BACKSTOP_MS} ms past the ${this.router.route(p.fn)?.timeoutMs ?? 0} ms timeout: the handler is blocking its event loop`);
    }
    this.stats.add(p.fn, FN_TIMEOUTS);
    p.answered = true;
    sendError(p.res, 504, `function ${p.fn} did not answer within ${this.router.route(p.fn)?.timeoutMs ?? 0} ms`, { requestId: p.id }, { 'x-request-id': String(p.id) });
    this.count(p, 504);
  }

  /** Answers with an error and releases the request (its container, if any, is done with it). */
  private fail(p: Pending, status: number, message: string, headers?: Record<string, string>, counter?: number): void {
    if (!p.answered) {
      p.answered = true;
      sendError(p.res, status, message, { requestId: p.id }, { ...headers, 'x-request-id': String(p.id) });
    }
    if (counter !== undefined) this.stats.add(p.fn, counter);
    this.finish(p, status);
  }

  private count(p: Pending, status: number): void {
    if (p.counted) return;
    p.counted = true;
    const s = this.stats;
    s.add(p.fn, FN_REQUESTS);
    s.add(p.fn, status < 400 ? FN_2XX : status < 500 ? FN_4XX : FN_5XX);
    s.add(p.fn, FN_BYTES_IN, p.bytesIn);
    s.record(p.fn, H_TOTAL, Math.round((performance.now() - p.t0) * 1000));
  }

  /** Frees the request's packets and forgets it, counting it unless it was counted already. */
  private finish(p: Pending, status: number): void {
    if (!this.pending.delete(p.id)) return;
    if (!p.kept) {
      this.release(p.desc);
      if (p.metaDesc) this.release(p.metaDesc);
    }
    this.stats.add(p.fn, FN_INFLIGHT, -1);
    this.count(p, status);
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.draining && this.pending.size === 0 && this.receiving === 0) this.idle?.();
  }

  /** Stops taking requests and resolves when every in-flight one has been answered. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.pending.size === 0 && this.receiving === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }
}
