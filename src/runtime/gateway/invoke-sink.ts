// ctx.invoke() at the gateway: a container asks, on its own link, for another function to be
// called with a packet it names (its request's input, lent without a copy, or one it hands over)
// on behalf of one of its requests in flight. The call is an exchange like a flow step; its reply
// packet is handed to the caller (the same packet inside a domain, one copy into the caller's
// domain otherwise). Everything an Invoke frame says is checked: a lie fails that call only.
import { FrameType, NO_PACKET, type Frame } from '../../shm/frame.js';
import type { Descriptor, PacketPool } from '../../shm/pool.js';
import type { Route } from '../protocol.js';
import { discard, open, seal, type FreeGuard } from '../envelope.js';
import { FLAG_REUSED, FLAG_SHARED, contentTypeFlags } from '../meta.js';
import type { ContainerReplica } from '../proxy/links.js';
import type { Exchange, Sink } from './exchange.js';
import type { ParsedReply } from './reply.js';

/** Calls deep (a calls b calls c …) at most. */
export const MAX_DEPTH = 8;
/** Calls running at once for one request at most. */
export const MAX_CALLS = 64;
const BACKSTOP_MS = 2000;
const EMPTY = new Uint8Array(0);

export interface InvokeHost {
  pending(id: number): Exchange | undefined;
  poolOfDomain(domain: number): PacketPool | undefined;
  poolFor(fn: number): PacketPool | undefined;
  routes(): Route[];
  guard(pool: PacketPool): FreeGuard;
  takeId(): number;
  submit(p: Exchange): void;
  release(pool: PacketPool, d: Descriptor): void;
  addInflight(fn: number): void;
  /** One copy across domains made for a call of function `fn`'s handler. */
  copied(fn: number, bytes: number): void;
  /** Packets in a domain, waiting for them if it is short (GatewayMemory.obtain). */
  obtain(pool: PacketPool, fn: number, sizes: number[], what: string, then: (descs: Descriptor[]) => void, fail: (status: number, message: string) => void, o?: { deadline?: number; all?: boolean }): void;
}

/** A status-only answer to call `callId`. */
const statusOnly = (callId: number, status: number): Frame => ({ type: FrameType.InvokeReply, flags: 0, index: NO_PACKET, generation: 0, length: 0, metaLength: 0, functionId: 0, requestId: callId, status, metaIndex: NO_PACKET, metaGeneration: 0 });

/** The function a call names: an id, or a function's name. */
function target(routes: Route[], to: unknown): Route | undefined {
  if (typeof to === 'number') return routes.find((r) => r.id === to);
  if (typeof to !== 'string') return undefined;
  return routes.find((r) => r.name === to) ?? (/^\d+$/.test(to) ? routes.find((r) => r.id === Number(to)) : undefined);
}

export function onInvoke(host: InvokeHost, f: Frame, caller: ContainerReplica): void {
  const pool = host.poolOfDomain(caller.domain);
  if (!pool) return caller.link.send(statusOnly(f.requestId, 503));
  const guard = host.guard(pool);
  let body: Descriptor;
  let meta: { parent?: unknown; to?: unknown };
  let lent = false;
  let parent: Exchange | undefined;
  try {
    const o = open(pool, f);
    body = o.desc;
    meta = JSON.parse(Buffer.from(o.meta.buffer, o.meta.byteOffset, o.meta.length).toString('utf8')) as typeof meta;
    parent = typeof meta.parent === 'number' ? host.pending(meta.parent) : undefined;
    if (!parent || parent.replica !== caller || parent.pool !== pool) throw new Error('no such request of this container in flight');
    lent = f.index === parent.desc.index && f.generation === parent.desc.generation;
    if (!lent && (pool.owner(body) !== guard.owner || guard.inFlight.has(f.index))) throw new Error(`packet ${f.index} was not handed to the gateway`);
  } catch {
    // A lying or broken frame: free what it handed over, if it is ours and nobody's in flight.
    discard(pool, f, lent, guard);
    return caller.link.send(statusOnly(f.requestId, 400));
  }
  if (f.metaIndex !== NO_PACKET) discard(pool, { ...f, index: NO_PACKET }, true, guard);
  const refuse = (status: number) => {
    if (!lent) host.release(pool, body);
    caller.link.send(statusOnly(f.requestId, status));
  };
  const route = target(host.routes(), meta.to);
  if (!route) return refuse(404);
  const chain = [...(parent.chain ?? []), parent.fn];
  // A call back into the chain would wait on itself (with concurrency 1, forever): refused.
  if (chain.includes(route.id) || chain.length >= MAX_DEPTH) return refuse(508);
  if ((parent.calls?.size ?? 0) >= MAX_CALLS) return refuse(429);
  const calleePool = host.poolFor(route.id);
  if (!calleePool) return refuse(503);
  // While the call waits for packets its input stays the caller's request's (lent), or out of
  // reach of a lying frame's frees (handed over).
  if (lent) parent.lent = (parent.lent ?? 0) + 1;
  else guard.inFlight.add(body.index);
  const letGo = () => {
    if (lent) return void unlend(host, parent, true);
    guard.inFlight.delete(body.index);
    host.release(pool, body);
  };
  const crossing = calleePool !== pool;
  const metaLength = Buffer.byteLength(parent.meta);
  host.obtain(calleePool, route.id, crossing ? [f.length, metaLength] : [metaLength], `a call's input of ${f.length} bytes`, (descs) => {
    if (parent.answered || caller.link.closed) {
      // The caller's request ended while the call waited: nobody wants it.
      for (const d of descs) host.release(calleePool, d);
      return letGo();
    }
    if (!crossing) return start(host, caller, f, parent, route, chain, calleePool, body, lent, lent, descs[0]);
    // Into the callee's domain: the one copy a crossing costs.
    calleePool.view(descs[0], f.length).set(pool.view(body, f.length));
    host.copied(parent.fn, f.length);
    if (!lent) letGo();
    start(host, caller, f, parent, route, chain, calleePool, descs[0], false, lent, descs[1]);
  }, (status) => {
    letGo();
    caller.link.send(statusOnly(f.requestId, status));
  });
}

/** The call has its packets: sealed and sent to the callee like any request. */
function start(host: InvokeHost, caller: ContainerReplica, f: Frame, parent: Exchange, route: Route, chain: number[], calleePool: PacketPool, desc: Descriptor, borrowed: boolean, lent: boolean, metaDesc: Descriptor): void {
  const id = host.takeId();
  const sealed = seal(calleePool, desc, f.length, parent.meta, Buffer.byteLength(parent.meta), { type: FrameType.Request, flags: borrowed ? FLAG_SHARED : 0, functionId: route.id, requestId: id, status: 0 }, undefined, true, metaDesc)!;
  const t0 = performance.now();
  const ex: Exchange = {
    id, fn: route.id, req: undefined, res: undefined, sink: undefined, borrowed, body: null, view: EMPTY, written: f.length, known: f.length,
    meta: parent.meta, metaLength: 0, pool: calleePool, desc, metaDesc: sealed.metaDesc, frame: sealed.frame, t0, tSent: 0, tReply: 0, replica: undefined,
    deadline: t0 + route.timeoutMs + BACKSTOP_MS, reply: undefined, replyStatus: 0, answered: false, counted: false, kept: false, bytesIn: f.length, intake: parent.intake, chain,
  };
  ex.sink = new InvokeCall(host, caller, f.requestId, parent, lent);
  (parent.calls ??= new Set()).add(ex);
  host.addInflight(route.id);
  host.submit(ex);
}

/** A call that lent its caller's input and will not run: one reader less; the last one of a finished request frees the input. */
function unlend(host: InvokeHost, p: Exchange, lent: boolean): undefined {
  if (!lent) return undefined;
  p.lent = (p.lent ?? 1) - 1;
  if (p.lent === 0 && p.lentDone) {
    host.guard(p.pool).inFlight.delete(p.desc.index);
    host.release(p.pool, p.desc);
  }
  return undefined;
}

/** One call's answer, to its caller. */
class InvokeCall implements Sink {
  constructor(
    private readonly host: InvokeHost,
    private readonly caller: ContainerReplica,
    private readonly callId: number,
    private readonly parent: Exchange,
    private readonly lent: boolean,
  ) {}

  replied(ex: Exchange, r: ParsedReply): void {
    this.parent.calls?.delete(ex);
    const to = this.host.poolOfDomain(this.caller.domain);
    // The caller is gone, or its request is: nobody reads the reply.
    if (this.caller.link.closed || this.parent.answered || !to) return r.reused ? undefined : this.host.release(r.pool, r.desc);
    const ct = Math.max(0, contentTypeFlags(r.headers as Record<string, string>));
    const head = { type: FrameType.InvokeReply, functionId: ex.fn, requestId: this.callId, status: r.status, metaLength: 0, metaIndex: NO_PACKET, metaGeneration: 0 } as const;
    if (r.reused && this.lent && r.pool === to) {
      // The callee answered from its input, which is the caller's own input packet: it stays the caller's request's.
      return this.caller.link.send({ ...head, flags: ct | FLAG_REUSED, index: r.desc.index, generation: r.desc.generation, length: r.length });
    }
    if (r.pool === to) {
      if (r.reused) {
        // The packet the caller handed over comes back as the reply: the exchange must not free it.
        ex.borrowed = true;
        this.host.guard(r.pool).inFlight.delete(r.desc.index);
      }
      return this.hand(to, r.desc, r.length, head, ct);
    }
    // Kept while its copy into the caller's domain waits for memory (the exchange ends now).
    if (r.reused) ex.borrowed = true;
    // An answer to work already admitted: it may take all of the caller's domain's budget, like a reply.
    this.host.obtain(to, this.parent.fn, [r.length], `a call's answer of ${r.length} bytes`, ([copy]) => {
      to.view(copy, r.length).set(r.pool.view(r.desc, r.length));
      this.host.copied(this.parent.fn, r.length);
      this.letGo(r);
      if (this.caller.link.closed || this.parent.answered) return this.host.release(to, copy);
      this.hand(to, copy, r.length, head, ct);
    }, () => {
      this.letGo(r);
      if (!this.caller.link.closed) this.caller.link.send(statusOnly(this.callId, 503));
    }, { all: true });
  }

  /** The callee's reply packet, copied into the caller's domain: freed (the exchange left it to us when it was its input). */
  private letGo(r: ParsedReply): void {
    if (r.reused) this.host.guard(r.pool).inFlight.delete(r.desc.index);
    this.host.release(r.pool, r.desc);
  }

  /** Hands packet `d` of the caller's domain to the caller as the call's answer. */
  private hand(to: PacketPool, d: Descriptor, length: number, head: Omit<Frame, 'flags' | 'index' | 'generation' | 'length'>, ct: number): void {
    to.transfer(d, this.caller.pid);
    this.caller.link.send({ ...head, flags: ct, index: d.index, generation: d.generation, length });
  }

  failed(ex: Exchange, status: number): void {
    this.parent.calls?.delete(ex);
    if (!this.caller.link.closed) this.caller.link.send(statusOnly(this.callId, status));
  }

  released(): void {
    // The caller's request finished while its input was lent: it goes back now.
    unlend(this.host, this.parent, this.lent);
  }
}
