// Runs requests: the handler gets a view of exactly its request's bytes, its result goes into a
// reply packet (or stays in the request or output packet it was written in), and the reply frame
// goes back on the link the request came from. Whatever the handler does, exactly one reply is
// sent per request. At most `concurrency` handlers run at once; more requests (several gateways
// may send to one replica) wait here in arrival order.
import type { Handler } from '../handler/types.js';
import type { Frame } from '../../shm/frame.js';
import type { PacketPool } from '../../shm/pool.js';
import type { ProcessStats } from '../../shm/stats.js';
import { open, type Opened } from '../envelope.js';
import { Output, RequestContext } from './context.js';
import { finish, jsonError, packetReply, statusOnly, type Reply } from './reply.js';
import { keepLate } from './late.js';
import { describeThrown, isInstance, stackOf } from './describe.js';
import { Calls } from './calls.js';
import { log } from '../child.js';
import type { IdTable } from '../id-table.js';

/** Where a request came from and its reply goes: one gateway's link. */
export interface ReplyPath {
  readonly gatewayPid: number;
  send(f: Frame): void;
  /** Requests of this link running or waiting here, by request id (for Cancel). */
  readonly requests: IdTable<RequestContext | null>;
}

export interface InvokerOptions {
  pool: PacketPool;
  handler: Handler;
  functionId: number;
  timeoutMs: number;
  concurrency: number;
  stats?: ProcessStats;
}

/** The handler's result did not come in time; `late` is the handler's promise, still running. */
export class Timeout extends Error {
  constructor(readonly late: PromiseLike<unknown>) {
    super('handler timeout');
  }
}

/** The status of a request whose client went away before it ran (nginx's "client closed request"). */
const CLIENT_GONE = 499;

export class Invoker {
  private readonly o: InvokerOptions;
  /** Handlers running now. */
  active = 0;
  /** Handlers still running after their timeout (their packets are held until they settle). */
  late = 0;
  private readonly waiting: Array<{ f: Frame; path: ReplyPath }> = [];
  /** The handlers' ctx.invoke() calls waiting for their answers. */
  readonly calls: Calls;

  constructor(o: InvokerOptions) {
    this.o = o;
    this.calls = new Calls(o.pool);
  }

  /** A request frame arrived: run it now, or when a handler slot frees up. */
  submit(f: Frame, path: ReplyPath): void {
    path.requests.set(f.requestId, null);
    if (this.active < this.o.concurrency) void this.run(f, path);
    else this.waiting.push({ f, path });
  }

  /** The gateway gave up on a request (client gone, timed out): abort it, or answer it unrun. */
  cancel(requestId: number, path: ReplyPath): void {
    if (!path.requests.has(requestId)) return;
    const ctx = path.requests.get(requestId);
    if (ctx) return ctx.cancel('the client went away');
    const i = this.waiting.findIndex((w) => w.path === path && w.f.requestId === requestId);
    if (i < 0) return;
    const [{ f }] = this.waiting.splice(i, 1);
    path.requests.delete(requestId);
    path.send(statusOnly(f, CLIENT_GONE));
  }

  private next(): void {
    while (this.active < this.o.concurrency && this.waiting.length) {
      const w = this.waiting.shift()!;
      void this.run(w.f, w.path);
    }
  }

  async run(f: Frame, path: ReplyPath): Promise<void> {
    const { pool } = this.o;
    const t0 = performance.now();
    this.active++;
    let reply: Reply;
    let ctx: RequestContext | undefined;
    let opened: Opened | undefined;
    let inputBuffer: ArrayBuffer | undefined;
    try {
      opened = open(pool, f);
      inputBuffer = pool.packetView(opened.desc, f.length);
      const input = new Uint8Array(inputBuffer);
      ctx = new RequestContext(pool, f.functionId, f.requestId, opened.meta, input, opened.desc);
      ctx.via = { calls: this.calls, send: (fr) => path.send(fr), gatewayPid: path.gatewayPid, deadline: t0 + this.o.timeoutMs };
      path.requests.set(f.requestId, ctx);
      const result = await this.call(input, ctx);
      reply = packetReply(result, ctx, inputBuffer, opened.desc);
    } catch (err) {
      // `err` may be anything a handler threw: only total checks on it (describe.ts).
      if (isInstance(err, Timeout) && opened && ctx && inputBuffer) {
        this.active--;
        path.requests.delete(f.requestId);
        const timedOut = finish(pool, f, jsonError(504, `handler timed out after ${this.o.timeoutMs} ms`, f.requestId), path.gatewayPid);
        path.send(keepLate(this, pool, f, ctx, inputBuffer, err.late, timedOut, t0, this.o.timeoutMs));
        this.o.stats?.handled(Math.round((performance.now() - t0) * 1000), true);
        this.next();
        return;
      }
      reply = jsonError(500, `handler failed: ${describeThrown(err)}`, f.requestId);
      log('warn', 'handler error', { fn: f.functionId, req: f.requestId, error: stackOf(err) });
    }
    // The reply is copied into its packet (if it is not in one: waiting for one, up to the
    // request's deadline, when the domain is short), then every view is detached and the output
    // packets the reply does not use are freed, all before the frame can leave.
    let frame: Frame;
    try {
      const made = finish(pool, f, reply, path.gatewayPid, { deadline: t0 + this.o.timeoutMs });
      frame = made instanceof Promise ? await made : made;
    } catch (err) {
      // Returned bytes of a Uint8Array subclass whose `length` getter throws (finish reads it).
      reply = jsonError(500, `handler returned bytes that cannot be read: ${describeThrown(err)}`, f.requestId);
      frame = finish(pool, f, reply, path.gatewayPid);
    }
    for (const out of ctx?.outputs ?? []) if (out.desc && (!reply.packet || out.desc !== reply.packet.desc)) pool.free(out.desc);
    ctx?.releaseViews(inputBuffer);
    ctx?.freeReceived(reply.packet?.desc);
    if (!ctx && inputBuffer) pool.releaseView(inputBuffer);
    this.active--;
    path.requests.delete(f.requestId);
    path.send(frame);
    this.o.stats?.handled(Math.round((performance.now() - t0) * 1000), reply.status >= 500);
    this.next();
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
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export { Output };
