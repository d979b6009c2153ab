// From what a handler returned to the reply frame: which packet holds the reply (the request's
// own, an output the handler wrote, or a new one the result is copied into), its status and
// headers, sealed for the gateway.
import { FrameType, NO_PACKET, type Frame } from '../../shm/frame.js';
import { isExhausted, type Descriptor, type PacketPool } from '../../shm/pool.js';
import { allocFor, seal } from '../envelope.js';
import { FLAG_REUSED, contentTypeFlags, replyMetaBytes } from '../meta.js';
import { Output, type RequestContext } from './context.js';
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
    return reply(status, headers, null, { desc: result.desc, length: result.length, reused: false });
  }
  if (result instanceof Uint8Array) {
    if (result.byteOffset === 0 && result.buffer === input) return reply(status, headers, null, { desc: inputDesc, length: result.length, reused: true });
    const out = result.byteOffset === 0 ? ctx.outputs?.find((o) => o.buffer === result.buffer) : undefined;
    if (out) return reply(status, withType(headers, 'application/octet-stream'), null, { desc: out.desc, length: result.length, reused: false });
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

/** Puts the reply in a packet (if it is not in one yet), hands it to the gateway, builds the frame. */
export function finish(pool: PacketPool, f: Frame, r: Reply, gatewayPid: number): Frame {
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
    const d = allocFor(pool, length, metaLength);
    if (isExhausted(d)) return statusOnly(f, d.reason === 'too-large' ? 500 : 503);
    const view = pool.view(d, length);
    if (typeof body === 'string') Buffer.from(view.buffer, view.byteOffset, length).write(body, 'utf8');
    else view.set(body);
    desc = d;
  }
  const head = { type: FrameType.Reply, flags: flags | (reused ? FLAG_REUSED : 0), functionId: f.functionId, requestId: f.requestId, status: r.status };
  const sealed = seal(pool, desc, length, meta ?? '', metaLength, head, { to: gatewayPid, body: !reused });
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
