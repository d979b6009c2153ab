// From what a handler returned to the reply frame: which packet holds the reply (the request's
// own, an output the handler wrote, or a new one the result is copied into), its status and
// headers, sealed for the gateway.
import { FrameType, NO_PACKET, type Frame } from '../../shm/frame.js';
import { isExhausted, type Descriptor, type Exhausted, type PacketPool } from '../../shm/pool.js';
import { allocPackets, seal, type Packets } from '../envelope.js';
import { FLAG_REUSED, contentTypeFlags, replyMetaBytes } from '../meta.js';
import { Output, type RequestContext } from './context.js';
import { waitForPackets, type ReplyWait } from './memory.js';
import { toJson } from './describe.js';
import { types } from 'node:util';

export interface Reply {
  status: number;
  headers: Record<string, string> | undefined;
  /**
   * What goes into a new packet: bytes are copied, a string is encoded straight into the packet
   * (one pass, no intermediate buffer); null when `packet` already holds the reply.
   */
  body: Uint8Array | string | null;
  packet: { desc: Descriptor; length: number; reused: boolean } | undefined;
}

const EMPTY = new Uint8Array(0);

/** Every Reply has the same shape, so the request path stays monomorphic. */
const reply = (status: number, headers: Record<string, string> | undefined, body: Uint8Array | string | null, packet?: Reply['packet']): Reply => ({ status, headers, body, packet });

/** The same error shape as the gateway's own: `{ error, status, requestId }`. */
export const jsonError = (status: number, message: string, requestId: number): Reply => reply(status, { 'content-type': 'application/json' }, JSON.stringify({ error: message, status, requestId }));

function withType(h: Record<string, string> | undefined, type: string): Record<string, string> {
  return h && h['content-type'] ? h : { ...h, 'content-type': type };
}

/**
 * What the handler's result becomes. Bytes that already are a packet's (the input returned as is,
 * or the start of an output it wrote) are answered from that packet: no copy.
 */
export function packetReply(result: unknown, ctx: RequestContext, input: ArrayBuffer, inputDesc: Descriptor): Reply {
  const status = ctx.statusCode;
  const headers = ctx.replyHeaders;
  // A Proxy is not asked what it is (its traps are the handler's code): it can only be JSON.
  if (types.isProxy(result)) return jsonReply(result, ctx);
  if (result instanceof Output) {
    if (result.length < 0) result.end(result.bytes.length);
    // An output the pool had no packet for at the time (its bytes are on the heap): copied now.
    if (!result.desc) return reply(status, withType(headers, 'application/octet-stream'), result.bytes.subarray(0, result.length));
    return reply(status, headers, null, { desc: result.desc, length: result.length, reused: false });
  }
  if (result instanceof Uint8Array) {
    if (result.byteOffset === 0 && result.buffer === input) return reply(status, headers, null, { desc: inputDesc, length: result.length, reused: true });
    const out = result.byteOffset === 0 ? ctx.outputs?.find((o) => o.buffer === result.buffer) : undefined;
    if (out?.desc) return reply(status, withType(headers, 'application/octet-stream'), null, { desc: out.desc, length: result.length, reused: false });
    // The answer of a ctx.invoke() call, passed on as it is.
    const got = result.byteOffset === 0 ? ctx.received?.find((r) => r.buffer === result.buffer) : undefined;
    if (got) return reply(status, withType(headers, 'application/octet-stream'), null, { desc: got.desc, length: result.length, reused: false });
    return reply(status, withType(headers, 'application/octet-stream'), result);
  }
  if (typeof result === 'string') return reply(status, withType(headers, 'text/plain; charset=utf-8'), result);
  if (result === undefined || typeof result === 'function' || typeof result === 'symbol' || typeof result === 'bigint') {
    return jsonError(500, `handler returned ${typeof result}: return a Uint8Array, Buffer, string or JSON-serialisable value`, ctx.requestId);
  }
  return jsonReply(result, ctx);
}

/** The result as JSON, or a 500 saying why it cannot be (describe.ts: never a throw). */
function jsonReply(result: unknown, ctx: RequestContext): Reply {
  const r = toJson(result);
  if ('error' in r) return jsonError(500, `handler returned a value that cannot be serialised as JSON: ${r.error}`, ctx.requestId);
  return reply(ctx.statusCode, withType(ctx.replyHeaders, 'application/json'), r.json);
}

/**
 * Puts the reply in a packet (if it is not in one yet), hands it to the gateway, builds the frame.
 * With `wait`, a domain short of packet memory makes it wait for it (then the frame comes as a
 * promise), up to the request's deadline; without, or past it, the reply is a 503 with no packet.
 */
export function finish(pool: PacketPool, f: Frame, r: Reply, gatewayPid: number): Frame;
export function finish(pool: PacketPool, f: Frame, r: Reply, gatewayPid: number, wait: ReplyWait): Frame | Promise<Frame>;
export function finish(pool: PacketPool, f: Frame, r: Reply, gatewayPid: number, wait?: ReplyWait): Frame | Promise<Frame> {
  let flags = contentTypeFlags(r.headers);
  const meta = flags < 0 ? replyMetaBytes(r.headers!) : undefined;
  if (flags < 0) flags = 0;
  const metaLength = meta ? meta.length : 0;
  const head = { type: FrameType.Reply, flags, functionId: f.functionId, requestId: f.requestId, status: r.status };
  if (r.packet) {
    const { desc, length, reused } = r.packet;
    const sealed = (metaDesc?: Descriptor) => sealReply(pool, f, desc, length, reused, meta, metaLength, head, gatewayPid, metaDesc);
    // Its metadata does not fit behind it: a small packet of its own.
    if (metaLength === 0 || length + metaLength <= desc.capacity) return sealed();
    const m = pool.alloc(metaLength);
    if (!isExhausted(m)) return sealed(m);
    return later(pool, f, wait, () => pool.alloc(metaLength), (got) => sealed(got), () => (reused ? undefined : pool.free(desc)));
  }
  const body = r.body ?? EMPTY;
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const write = (got: Packets) => {
    const view = pool.view(got.body, length);
    if (typeof body === 'string') Buffer.from(view.buffer, view.byteOffset, length).write(body, 'utf8');
    else view.set(body);
    return sealReply(pool, f, got.body, length, false, meta, metaLength, head, gatewayPid, got.meta);
  };
  const got = allocPackets(pool, length, metaLength);
  if (!isExhausted(got)) return write(got);
  if (got.reason === 'too-large') return statusOnly(f, 500);
  return later(pool, f, wait, () => allocPackets(pool, length, metaLength), write);
}

/** The packets a reply waits for, then the frame; a 503 when there is no waiting or it lasts past the deadline (`undo` first). */
function later<T extends object>(pool: PacketPool, f: Frame, wait: ReplyWait | undefined, attempt: () => T | Exhausted, then: (got: T) => Frame, undo?: () => void): Frame | Promise<Frame> {
  if (!wait) {
    undo?.();
    return statusOnly(f, 503);
  }
  return waitForPackets(pool, wait, attempt).then((got) => {
    if (got) return then(got);
    undo?.();
    return statusOnly(f, 503);
  });
}

function sealReply(pool: PacketPool, f: Frame, desc: Descriptor, length: number, reused: boolean, meta: Uint8Array | undefined, metaLength: number, head: { type: number; flags: number; functionId: number; requestId: number; status: number }, gatewayPid: number, metaDesc?: Descriptor): Frame {
  const sealed = seal(pool, desc, length, meta ?? '', metaLength, { ...head, type: FrameType.Reply, flags: head.flags | (reused ? FLAG_REUSED : 0) }, { to: gatewayPid, body: !reused }, false, metaDesc);
  if (!sealed) {
    if (!reused) pool.free(desc);
    return statusOnly(f, 503);
  }
  return sealed.frame;
}

/** A reply that carries only a status: no packet (the pool had no room, or nothing ran). */
export function statusOnly(f: Frame, status: number): Frame {
  return {
    type: FrameType.Reply, flags: 0, index: NO_PACKET, generation: 0, length: 0, metaLength: 0,
    functionId: f.functionId, requestId: f.requestId, status, metaIndex: NO_PACKET, metaGeneration: 0,
  };
}
