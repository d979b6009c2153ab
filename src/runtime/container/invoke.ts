// Runs one request: the handler gets a view onto the request packet, its result goes into a reply
// packet (or stays in the request packet when the handler returned its input), and the reply
// frame goes back to the gateway. Whatever the handler does, exactly one reply is sent.
import type { Handler } from '../handler/types.js';
import { FrameType, NO_PACKET, type Frame } from '../../shm/frame.js';
import { isExhausted, type Descriptor, type PacketPool } from '../../shm/pool.js';
import type { ProcessStats } from '../../shm/stats.js';
import { FLAG_KEPT, FLAG_REUSED, contentTypeFlags, metaView, placeMeta, replyMetaBytes } from '../meta.js';
import { Output, PoolExhaustedError, RequestContext } from './context.js';
import { log, requestReplacement } from '../child.js';

const EMPTY = new Uint8Array(0);
/** Handlers still running after their timeout before the replica asks to be replaced. */
export const LATE_HANDLER_LIMIT = 8;

/** The handler's result did not come in time; `late` is the handler's promise, still running. */
class Timeout extends Error {
  constructor(readonly late: PromiseLike<unknown>) {
    super('handler timeout');
  }
}

interface Reply {
  status: number;
  headers: Record<string, string> | undefined;
  /**
   * What goes into a new packet: bytes are copied, a string is encoded straight into the packet
   * (one pass, no intermediate buffer); null when `packet` already holds the reply.
   */
  body: Uint8Array | string | null;
  packet: { desc: Descriptor; length: number; reused: boolean } | undefined;
}

/** Every Reply has the same shape, so the request path stays monomorphic. */
const reply = (status: number, headers: Record<string, string> | undefined, body: Uint8Array | string | null, packet?: Reply['packet']): Reply => ({ status, headers, body, packet });

export interface InvokerOptions {
  pool: PacketPool;
  handler: Handler;
  functionId: number;
  timeoutMs: number;
  stats?: ProcessStats;
}

/** The same error shape as the gateway's own: `{ error, status, requestId }`. */
const jsonError = (status: number, message: string, requestId: number): Reply => reply(status, { 'content-type': 'application/json' }, JSON.stringify({ error: message, status, requestId }));

export class Invoker {
  private readonly o: InvokerOptions;
  /** Pid the reply packets are handed to (the gateway), learnt in the handshake. */
  gatewayPid = 0;
  /** Requests whose reply has not been handed to sendReply yet. */
  active = 0;
  /** Handlers still running after their timeout (their packets are held until they settle). */
  late = 0;

  constructor(o: InvokerOptions) {
    this.o = o;
  }

  async run(f: Frame, sendReply: (f: Frame) => void): Promise<void> {
    const { pool } = this.o;
    const t0 = performance.now();
    this.active++;
    let reply: Reply;
    let ctx: RequestContext | undefined;
    let input: Uint8Array | undefined;
    let reqDesc: Descriptor | undefined;
    try {
      reqDesc = pool.describe(f.index, f.generation);
      if (f.length > reqDesc.capacity) throw new Error(`request frame length ${f.length} exceeds packet capacity ${reqDesc.capacity}`);
      input = pool.view(reqDesc, f.length);
      ctx = new RequestContext(pool, f.functionId, f.requestId, metaView(pool, f, reqDesc));
      const result = await this.call(input, ctx);
      reply = this.toReply(result, ctx, input, reqDesc);
    } catch (err) {
      if (err instanceof Timeout) {
        reply = jsonError(504, `handler timed out after ${this.o.timeoutMs} ms`, f.requestId);
        if (reqDesc) {
          this.active--;
          sendReply(this.keep(f, reqDesc, ctx, err.late, this.finish(f, reply), t0));
          this.o.stats?.handled(Math.round((performance.now() - t0) * 1000), true);
          return;
        }
      } else if (err instanceof PoolExhaustedError) reply = jsonError(503, err.message, f.requestId);
      else reply = jsonError(500, `handler failed: ${err instanceof Error ? err.message : String(err)}`, f.requestId);
      if (!(err instanceof Timeout) && !(err instanceof PoolExhaustedError)) log('warn', 'handler error', { fn: f.functionId, req: f.requestId, error: String(err instanceof Error ? err.stack : err) });
    }
    // Output packets the handler allocated but did not return are released here.
    for (const out of ctx?.outputs ?? []) if (!reply.packet || out.desc !== reply.packet.desc) pool.free(out.desc);
    this.active--;
    sendReply(this.finish(f, reply));
    this.o.stats?.handled(Math.round((performance.now() - t0) * 1000), reply.status >= 500);
  }

  /**
   * A timed-out handler still runs and may still write into its input and output packets. They
   * become this process's until it settles, so no other request can be handed the same memory; if
   * it never settles they are freed when this container exits (the supervisor reclaims them).
   */
  private keep(f: Frame, reqDesc: Descriptor, ctx: RequestContext | undefined, late: PromiseLike<unknown>, timeoutReply: Frame, t0: number): Frame {
    const { pool } = this.o;
    let held: Descriptor[] = [reqDesc];
    if (f.metaLength > 0 && f.metaIndex !== NO_PACKET) held.push(pool.describe(f.metaIndex, f.metaGeneration));
    try {
      for (const d of held) pool.transfer(d, process.pid);
    } catch (err) {
      // The gateway already let go of the request: its packets are not this process's to free.
      log('warn', `could not keep the packets of timed-out request ${f.requestId}: ${(err as Error).message}`);
      held = [];
    }
    this.late++;
    log('warn', `handler of request ${f.requestId} still running after its ${this.o.timeoutMs} ms timeout; its packets stay held until it settles`, { fn: f.functionId, req: f.requestId, running: this.late });
    const release = () => {
      this.late--;
      for (const d of [...held, ...(ctx?.outputs ?? []).map((o) => o.desc)]) {
        try {
          pool.free(d);
        } catch (err) {
          log('warn', `could not free a packet of late request ${f.requestId}: ${(err as Error).message}`);
        }
      }
      log('info', `late handler of request ${f.requestId} settled after ${Math.round(performance.now() - t0)} ms; its packets are free`, { fn: f.functionId, req: f.requestId });
    };
    // Each one pins its packets; past a few, a fresh replica is cheaper than a shrinking pool.
    if (this.late >= LATE_HANDLER_LIMIT) requestReplacement(`${this.late} handlers are still running past their ${this.o.timeoutMs} ms timeout`);
    late.then(release, release);
    return held.length ? { ...timeoutReply, flags: timeoutReply.flags | FLAG_KEPT } : timeoutReply;
  }

  /** Calls the handler; only an asynchronous result needs (and pays for) a timeout race. */
  private call(input: Uint8Array, ctx: RequestContext): unknown {
    const result = this.o.handler(input, ctx);
    if (!isThenable(result)) return result;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ctx.cancel('handler timeout');
        reject(new Timeout(result));
      }, this.o.timeoutMs);
    });
    return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
  }

  private toReply(result: unknown, ctx: RequestContext, input: Uint8Array, reqDesc: Descriptor): Reply {
    const status = ctx.statusCode;
    const headers = ctx.replyHeaders;
    if (result instanceof Output) {
      if (result.length < 0) result.end(result.bytes.length);
      return reply(status, headers, null, { desc: result.desc, length: result.length, reused: false });
    }
    if (result instanceof Uint8Array) {
      if (result.buffer === input.buffer && result.byteOffset === input.byteOffset && result.length <= input.length) {
        return reply(status, headers, null, { desc: reqDesc, length: result.length, reused: true });
      }
      return reply(status, withType(headers, 'application/octet-stream'), result);
    }
    if (typeof result === 'string') return reply(status, withType(headers, 'text/plain; charset=utf-8'), result);
    if (result === undefined || typeof result === 'function' || typeof result === 'symbol' || typeof result === 'bigint') {
      return jsonError(500, `handler returned ${typeof result}: return a Uint8Array, Buffer, string or JSON-serialisable value`, ctx.requestId);
    }
    let json: string;
    try {
      json = JSON.stringify(result);
    } catch (err) {
      return jsonError(500, `handler returned a value that cannot be serialised as JSON: ${(err as Error).message}`, ctx.requestId);
    }
    return reply(status, withType(headers, 'application/json'), json);
  }

  /** Puts the reply in a packet (if it is not in one yet), hands it to the gateway, builds the frame. */
  private finish(f: Frame, r: Reply): Frame {
    const { pool } = this.o;
    let flags = contentTypeFlags(r.headers);
    const meta = flags < 0 ? replyMetaBytes(r.headers!) : undefined;
    if (flags < 0) flags = 0;
    const metaLength = meta ? meta.length : 0;
    let desc: Descriptor;
    let length: number;
    let reused = false;
    if (r.packet) {
      ({ desc, length, reused } = r.packet);
    } else {
      const body = r.body ?? EMPTY;
      length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      let d = pool.alloc(length + metaLength);
      if (isExhausted(d) && d.reason === 'too-large') d = pool.alloc(length);
      if (isExhausted(d)) return statusOnly(f, d.reason === 'too-large' ? 500 : 503);
      const view = pool.view(d, length);
      if (typeof body === 'string') Buffer.from(view.buffer, view.byteOffset, length).write(body, 'utf8');
      else view.set(body);
      desc = d;
    }
    const placed = placeMeta(pool, desc, length, meta ?? '', metaLength);
    if (!placed) {
      if (!reused) pool.free(desc);
      return statusOnly(f, 503);
    }
    if (!reused) {
      pool.label(desc, f.functionId, f.requestId);
      pool.transfer(desc, this.gatewayPid);
    }
    if (placed.metaDesc) {
      pool.label(placed.metaDesc, f.functionId, f.requestId);
      pool.transfer(placed.metaDesc, this.gatewayPid);
    }
    return {
      type: FrameType.Reply, flags: flags | (reused ? FLAG_REUSED : 0), index: desc.index, generation: desc.generation, length,
      metaLength: placed.metaLength, functionId: f.functionId, requestId: f.requestId, status: r.status,
      metaIndex: placed.metaIndex, metaGeneration: placed.metaGeneration,
    };
  }
}

/** A reply that carries only a status: the pool had no room for the reply itself. */
function statusOnly(f: Frame, status: number): Frame {
  return {
    type: FrameType.Reply, flags: 0, index: NO_PACKET, generation: 0, length: 0, metaLength: 0,
    functionId: f.functionId, requestId: f.requestId, status, metaIndex: NO_PACKET, metaGeneration: 0,
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function withType(h: Record<string, string> | undefined, type: string): Record<string, string> {
  return h && h['content-type'] ? h : { ...h, 'content-type': type };
}
