// A request's way in: its body goes from the socket into a packet of its function's domain
// segment, once, as it arrives; then the request is submitted. Requests refused here (unknown
// function, too large, pool full, draining, a body that does not match its Content-Length) are
// answered at once and counted for their function, so requests = 2xx + 4xx + 5xx holds.
import type { ClientRequest, ClientResponse } from '../http1/types.js';
import { FrameType } from '../../shm/frame.js';
import { isExhausted, type Descriptor, type PacketPool } from '../../shm/pool.js';
import { FN_4XX, FN_5XX, FN_INFLIGHT, FN_REJECTED, FN_REQUESTS } from '../../shm/constants.js';
import { allocFor, seal } from '../envelope.js';
import { requestMeta } from '../meta.js';
import { sendError } from './errors.js';
import { log } from '../child.js';
import { EXCHANGE, type Exchange, type WithExchange } from './exchange.js';
import type { FunctionStats } from '../../shm/stats.js';
import type { Route } from '../protocol.js';

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
    const first = allocFor(pool, Math.max(known, 0), metaLength);
    if (isExhausted(first)) {
      req.resume();
      return this.refuse(res, fn, id, 503, 'the shared-memory pool is exhausted: retry shortly', FN_REJECTED, undefined, RETRY_AFTER);
    }
    // A client that sent "Expect: 100-continue" may send its body now.
    if (req.contentLength === undefined && req.headers.expect) res.writeContinue();
    const p: Exchange = {
      id, fn, req, res, sink: undefined, borrowed: false, flow, body: first, view: pool.view(first), written: 0, known, meta, metaLength, pool, desc: first, metaDesc: undefined, frame: undefined,
      t0, tSent: 0, tReply: 0, replica: undefined, deadline: 0, reply: undefined, replyStatus: 0, answered: false, counted: false, kept: false, bytesIn: 0, intake: this,
    };
    gw.stats.add(fn, FN_INFLIGHT);
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
    p.body = null;
    this.gw.stats.add(p.fn, FN_INFLIGHT, -1);
    this.receiving--;
    this.gw.checkIdle();
  }

  /** A body chunk: into the packet, moving to a bigger packet when a chunked (or lying) body outgrows it. */
  chunk(p: Exchange, chunk: Buffer): void {
    const pool = p.pool;
    if (p.written + chunk.length > p.view.length) {
      const fits = p.written + chunk.length <= pool.maxPacket;
      const bigger = fits ? allocFor(pool, Math.max(p.written + chunk.length, p.view.length * 4), 0) : null;
      if (bigger === null || isExhausted(bigger)) {
        this.giveUp(p);
        p.res!.shouldKeepAlive = false;
        if (!fits) this.refuse(p.res!, p.fn, p.id, 413, `body is larger than the largest packet (${pool.maxPacket} bytes)`, undefined, { limit: pool.maxPacket });
        else this.refuse(p.res!, p.fn, p.id, 503, 'the shared-memory pool is exhausted: retry shortly', FN_REJECTED, undefined, RETRY_AFTER);
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
    const sealed = seal(p.pool, desc, p.written, p.meta, p.metaLength, { type: FrameType.Request, flags: 0, functionId: p.fn, requestId: p.id, status: 0 });
    if (!sealed) {
      this.release(p.pool, desc);
      this.gw.stats.add(p.fn, FN_INFLIGHT, -1);
      this.refuse(p.res!, p.fn, p.id, 503, 'the shared-memory pool is exhausted: retry shortly', FN_REJECTED, undefined, RETRY_AFTER);
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
