// A request's way in: its body goes from the socket into a packet of its function's domain
// segment, once, as it arrives; then the request is submitted. A domain short of packet memory for
// a moment makes the request wait for it (memory.ts) before its body is read. Requests refused
// here (unknown function, too large, memory or queue full, draining, a body that does not match
// its Content-Length) are answered and counted for their function, so requests = 2xx + 4xx + 5xx.
import type { ClientRequest, ClientResponse } from '../http1/types.js';
import { FrameType } from '../../shm/frame.js';
import { isExhausted, type Descriptor, type PacketPool } from '../../shm/pool.js';
import { FN_4XX, FN_5XX, FN_INFLIGHT, FN_REJECTED, FN_REQUESTS } from '../../shm/constants.js';
import { allocFor, allocPackets, packetBytes, seal, type Packets } from '../envelope.js';
import { requestMeta } from '../meta.js';
import { sendError } from './errors.js';
import { log } from '../child.js';
import { EXCHANGE, type Exchange, type Taken, type WithExchange } from './exchange.js';
import type { FunctionStats } from '../../shm/stats.js';
import type { Route } from '../protocol.js';
import type { GatewayMemory } from './memory.js';

export const RETRY_AFTER = { 'retry-after': '1' };

/** What the intake needs of the gateway it feeds. */
export interface IntakeHost {
  readonly stats: FunctionStats;
  readonly router: { route(id: number): Route | undefined; routes(): Route[] };
  poolFor(fn: number): PacketPool | undefined;
  deadlineFor(fn: number, t0: number): number;
  submit(p: Exchange): void;
  startFlow(p: Exchange): void;
  onClose(p: Exchange): void;
  checkIdle(): void;
  readonly memory: GatewayMemory;
  /** Requests queued for function `fn` (for a replica or for memory); at most proxy.queueLimit. */
  queued(fn: number): number;
  readonly cfg: { proxy: { queueLimit: number } };
}


export class Intake {
  /** Requests whose body is still arriving: in flight for a drain, though no container has them. */
  receiving = 0;
  private next: number;

  constructor(
    private readonly gw: IntakeHost,
    /** Request ids are index, index + stride, …: unique across the instance's gateways. */
    index: number,
    private readonly stride: number,
  ) {
    this.next = index + 1;
  }

  /** A request id for every response, errors included, so any answer can be traced in the logs. */
  takeId(): number {
    const id = this.next;
    this.next = id + this.stride > 0xfffffffe ? (id % this.stride) + 1 : id + this.stride;
    return id;
  }

  /**
   * Frees a packet this process holds. A failure here means the pool was changed under us (a
   * container of the domain, or a bug); it is logged, and the request path carries on.
   */
  release(pool: PacketPool, d: Descriptor): void {
    try {
      pool.free(d, process.pid);
    } catch (err) {
      log('error', `could not free packet ${d.index}: ${(err as Error).message}`);
    }
  }

  /** Answers a request that never reached a container and counts it for its function. */
  private refuse(res: ClientResponse, fn: number, id: number, status: number, message: string, counter?: number, extra?: Record<string, unknown>, headers?: Record<string, string>): void {
    sendError(res, status, message, { ...extra, requestId: id }, { ...headers, 'x-request-id': String(id) });
    const s = this.gw.stats;
    s.add(fn, FN_REQUESTS);
    s.add(fn, status < 500 ? FN_4XX : FN_5XX);
    if (counter !== undefined) s.add(fn, counter);
  }

  /**
   * Takes a request for function `fn`, or for a flow (`flow`: its name, `fn` its first function):
   * the body goes into a packet of that function's domain.
   */
  take(req: ClientRequest, res: ClientResponse, fn: number, draining: boolean, flow?: string): void {
    const gw = this.gw;
    const id = this.takeId();
    const route = gw.router.route(fn);
    const pool = gw.poolFor(fn);
    if (!route || !pool) {
      req.resume();
      if (route) return this.refuse(res, fn, id, 503, `function ${fn}'s domain segment is not mapped yet: retry shortly`, FN_REJECTED, undefined, RETRY_AFTER);
      return sendError(res, 404, `no function with id ${fn}`, { requestId: id, functions: gw.router.routes().map((r) => ({ id: r.id, name: r.name })) }, { 'x-request-id': String(id) });
    }
    if (draining) {
      req.resume();
      return this.refuse(res, fn, id, 503, 'the gateway is shutting down', FN_REJECTED, undefined, { ...RETRY_AFTER, connection: 'close' });
    }
    const known = req.contentLength ?? declaredLength(req.headers['content-length']);
    if (known > pool.maxPacket) {
      // Refused before the body is read: no "100 Continue", and the connection closes so the body
      // is not uploaded for nothing.
      res.shouldKeepAlive = false;
      return this.refuse(res, fn, id, 413, `body of ${known} bytes is larger than the largest packet (${pool.maxPacket} bytes)`, undefined, { limit: pool.maxPacket });
    }
    const t0 = performance.now();
    const meta = req.metaBytes ? req.metaBytes() : requestMeta(queryOf(req.url!), req.rawHeaders);
    const metaLength = typeof meta === 'string' ? Buffer.byteLength(meta) : meta.length;
    const length = Math.max(known, 0);
    const mem = gw.memory;
    const limit = mem.limit(pool);
    const t: Taken = { req, res, fn, id, flow, known, meta, metaLength, pool, t0 };
    const never = mem.neverFits(pool, fn, `a body of ${length} bytes`, packetBytes(pool, length, metaLength));
    if (never !== undefined) {
      res.shouldKeepAlive = false;
      return this.refuse(res, fn, id, 413, never, undefined, { limit });
    }
    // Behind anyone already waiting for this domain's memory: first come, first served.
    const got = mem.waits.busy(pool) ? undefined : allocPackets(pool, length, metaLength, limit);
    if (got !== undefined && !isExhausted(got)) return this.begin(t, got);
    if (gw.queued(fn) >= gw.cfg.proxy.queueLimit) {
      req.resume();
      return this.refuse(res, fn, id, 503, `function ${fn} has ${gw.cfg.proxy.queueLimit} requests queued: retry shortly`, FN_REJECTED, undefined, RETRY_AFTER);
    }
    this.waitFor(t, length, limit);
  }

  /**
   * The request waits for its packets without its body being read (the light parser holds it,
   * Node's reads none without a listener): granted, it goes on as if it had them at once; past
   * segment.wait it is answered 503; a client that leaves meanwhile is counted as 499.
   */
  private waitFor(t: Taken, length: number, limit: number): void {
    let got: Packets | undefined;
    t.req.holdBody?.(true);
    // In flight for a drain, like a body still arriving: the gateway stops only once it is answered.
    this.receiving++;
    const done = () => {
      this.receiving--;
      this.gw.checkIdle();
    };
    const onGone = () => {
      if (!this.gw.memory.waits.cancel(t.pool, w)) return;
      this.refuse(t.res, t.fn, t.id, 499, 'the client went away while the request waited for memory');
      done();
    };
    const w = this.gw.memory.wait({
      fn: t.fn, pool: t.pool, bytes: packetBytes(t.pool, length, t.metaLength),
      attempt: () => {
        const r = allocPackets(t.pool, length, t.metaLength, limit);
        if (isExhausted(r)) return false;
        got = r;
        return true;
      },
      granted: () => {
        this.receiving--;
        if (t.res.destroyed) {
          // Gone between its close and the grant: nothing of it remains.
          this.release(t.pool, got!.body);
          if (got!.meta) this.release(t.pool, got!.meta);
          this.refuse(t.res, t.fn, t.id, 499, 'the client went away while the request waited for memory');
          return this.gw.checkIdle();
        }
        this.begin(t, got!);
        t.req.holdBody?.(false);
        // A light request whose (empty) body was complete while it waited has had no 'end' to hear.
        if (t.req.holdBody && t.req.complete) onEnd.call(t.req as WithExchange<ClientRequest>);
      },
      refused: (message) => {
        t.req.resume();
        t.req.holdBody?.(false);
        t.res.shouldKeepAlive = false;
        this.refuse(t.res, t.fn, t.id, 503, message, FN_REJECTED, undefined, RETRY_AFTER);
        done();
      },
    });
    t.res.on('close', onGone);
  }

  /** The request has its packets: its body goes in as it arrives. */
  private begin(t: Taken, got: Packets): void {
    const { req, res, fn, pool } = t;
    // A client that sent "Expect: 100-continue" may send its body now.
    if (req.contentLength === undefined && req.headers.expect) res.writeContinue();
    const first = got.body;
    const p: Exchange = {
      id: t.id, fn, req, res, sink: undefined, borrowed: false, flow: t.flow, body: first, view: pool.view(first), written: 0, known: t.known, meta: t.meta, metaLength: t.metaLength, pool, desc: first, metaDesc: got.meta, frame: undefined,
      t0: t.t0, tSent: 0, tReply: 0, replica: undefined, deadline: 0, reply: undefined, replyStatus: 0, answered: false, counted: false, kept: false, bytesIn: 0, intake: this,
    };
    this.gw.stats.add(fn, FN_INFLIGHT);
    this.receiving++;
    (req as WithExchange<ClientRequest>)[EXCHANGE] = p;
    req.on('data', onData);
    req.on('end', onEnd);
    // A client that disconnects (or is timed out by gateway.requestTimeout) before its body is
    // complete: nothing of the request remains.
    req.on('close', onRequestClose);
  }

  /** Exactly once per request whose body does not make it: its packet goes back, it is no longer in flight. */
  giveUp(p: Exchange): void {
    if (p.body) this.release(p.pool, p.body);
    if (p.metaDesc) this.release(p.pool, p.metaDesc);
    p.body = null;
    p.metaDesc = undefined;
    this.gw.stats.add(p.fn, FN_INFLIGHT, -1);
    this.receiving--;
    this.gw.checkIdle();
  }

  /** A body chunk: into the packet, moving to a bigger packet when a chunked (or lying) body outgrows it. */
  chunk(p: Exchange, chunk: Buffer): void {
    const pool = p.pool;
    if (p.written + chunk.length > p.view.length) {
      const fits = p.written + chunk.length <= pool.maxPacket;
      // Twice as large (or what the chunk needs): the copies add up to less than the body, and the
      // packet is never more than twice what it holds.
      const bigger = fits ? allocFor(pool, Math.min(pool.maxPacket, Math.max(p.written + chunk.length, p.view.length * 2)), 0, this.gw.memory.limit(pool)) : null;
      if (bigger === null || isExhausted(bigger)) {
        this.giveUp(p);
        p.res!.shouldKeepAlive = false;
        if (!fits) this.refuse(p.res!, p.fn, p.id, 413, `body is larger than the largest packet (${pool.maxPacket} bytes)`, undefined, { limit: pool.maxPacket });
        else this.refuse(p.res!, p.fn, p.id, 503, `domain ${this.gw.memory.domainName(pool)} has no packet memory free for a chunked body of ${p.written + chunk.length} bytes and more: send a Content-Length (a request that has one waits for memory), or raise segment.size`, FN_REJECTED, undefined, RETRY_AFTER);
        return;
      }
      const next = pool.view(bigger);
      next.set(p.view.subarray(0, p.written));
      this.release(pool, p.body!);
      p.body = bigger;
      p.view = next;
    }
    p.view.set(chunk, p.written);
    p.written += chunk.length;
  }

  /** Its response is done (sent, failed, or the client left). */
  closed(p: Exchange): void {
    this.gw.onClose(p);
  }

  /** The whole body is in: seal it and hand the request to the gateway. */
  complete(p: Exchange): void {
    if (p.known >= 0 && p.written !== p.known) {
      this.giveUp(p);
      return this.refuse(p.res!, p.fn, p.id, 400, `body was ${p.written} bytes but Content-Length said ${p.known}`);
    }
    const desc = p.body!;
    p.body = null;
    this.receiving--;
    const sealed = seal(p.pool, desc, p.written, p.meta, p.metaLength, { type: FrameType.Request, flags: 0, functionId: p.fn, requestId: p.id, status: 0 }, undefined, false, p.metaDesc);
    if (!sealed) {
      // Only a chunked body that outgrew room for its metadata gets here (others have their packets).
      this.release(p.pool, desc);
      this.gw.stats.add(p.fn, FN_INFLIGHT, -1);
      this.refuse(p.res!, p.fn, p.id, 503, `domain ${this.gw.memory.domainName(p.pool)} has no packet memory free for the request's metadata: retry shortly, or raise segment.size`, FN_REJECTED, undefined, RETRY_AFTER);
      return this.gw.checkIdle();
    }
    p.desc = desc;
    p.metaDesc = sealed.metaDesc;
    p.frame = sealed.frame;
    p.bytesIn = p.written;
    p.deadline = this.gw.deadlineFor(p.fn, p.t0);
    if (p.flow !== undefined) this.gw.startFlow(p);
    else this.gw.submit(p);
  }
}

/** A Content-Length header's value (Node's parser has checked it), or -1 for none (chunked). */
function declaredLength(header: string | undefined): number {
  return header !== undefined ? Number(header) : -1;
}

function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

// The request's listeners: shared, finding their request's Exchange on it (see exchange.ts).
function onData(this: WithExchange<ClientRequest>, chunk: Buffer): void {
  const p = this[EXCHANGE];
  if (p?.body) p.intake.chunk(p, chunk);
}

function onEnd(this: WithExchange<ClientRequest>): void {
  const p = this[EXCHANGE];
  if (p?.body) p.intake.complete(p);
}

function onRequestClose(this: WithExchange<ClientRequest>): void {
  const p = this[EXCHANGE];
  if (p?.body && !this.complete) p.intake.giveUp(p);
}
