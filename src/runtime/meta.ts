// Request and reply metadata (headers, query, reply headers) travel in the packet right after the
// body (envelope.ts puts them there), so the frame stays fixed-size and nothing but the descriptor
// crosses a socket. Both ends are on the request path, so the encodings are chosen for cost: the
// request's raw header lines joined by '\n' (one string join, parsed only if the handler reads a
// header), and a reply needs no metadata at all when its only header is one of three common
// content types.

/** Reply frame flag: the reply is in the request's own packet (the handler returned its input). */
export const FLAG_REUSED = 1;
/**
 * Reply frame flag: the container kept the request's packets. Its handler timed out but still runs
 * with views onto them, so they stay the container's until the handler settles; the gateway must
 * not free them (a freed packet would be reused under the late handler's writes).
 */
export const FLAG_KEPT = 8;
/**
 * Request frame flag: the input packet is a flow's (other steps may read it too). The container
 * reads it and may answer from it, but never keeps it for a handler that outlives its timeout.
 */
export const FLAG_SHARED = 16;
/** Reply frame flags bits 1–2: a content type carried in the frame instead of in metadata. */
const CT_SHIFT = 1;
const CT_MASK = 3 << CT_SHIFT;
const CONTENT_TYPES = ['', 'application/octet-stream', 'text/plain; charset=utf-8', 'application/json'];

export interface ReplyMeta {
  /** Reply headers (lower-case names). */
  h: Record<string, string>;
}

/** Request metadata: the query string, then raw header name/value lines. HTTP forbids '\n' in both. */
export function requestMeta(query: string, rawHeaders: string[]): string {
  return rawHeaders.length ? `${query}\n${rawHeaders.join('\n')}` : query;
}

/** What a flow step's request carries besides the original request's query and headers. */
export interface FlowInfo {
  flow: string;
  /** The step: its function's name, or for a parallel branch `<group>/<name>`. */
  step: string;
  /** The flow request's own id (the client's x-request-id): every step logs under it. */
  rid: number;
  /** A join step's further inputs (the outputs of a parallel group but the first): [index, generation, length]. */
  inputs?: [number, number, number][];
}

/** A flow step's metadata: a first line that no query can start with (0x01), then the request's own. */
const FLOW_MARK = '\u0001';

export function flowMeta(info: FlowInfo, base: string): string {
  return `${FLOW_MARK}${JSON.stringify(info)}\n${base}`;
}

export interface ParsedRequestMeta {
  query: string;
  headers: Record<string, string | string[]>;
  flow?: FlowInfo;
}

/** Parses request metadata into Node's header conventions (lower-case, repeated ones joined). */
export function parseRequestMeta(bytes: Uint8Array): ParsedRequestMeta {
  let text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  let flow: FlowInfo | undefined;
  if (text.startsWith(FLOW_MARK)) {
    const nl = text.indexOf('\n');
    flow = JSON.parse(text.slice(1, nl < 0 ? undefined : nl)) as FlowInfo;
    text = nl < 0 ? '' : text.slice(nl + 1);
  }
  const lines = text.split('\n');
  const headers: Record<string, string | string[]> = {};
  for (let i = 1; i + 1 < lines.length; i += 2) {
    const name = lines[i].toLowerCase();
    const value = lines[i + 1];
    const prev = headers[name];
    if (prev === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[name] = `${prev}, ${value}`;
  }
  return flow ? { query: lines[0], headers, flow } : { query: lines[0], headers };
}

/** Frame flags for a reply whose only header is `headers['content-type']` of a common kind, else -1. */
export function contentTypeFlags(headers: Record<string, string> | undefined): number {
  if (!headers) return 0;
  let n = 0;
  for (const _ in headers) n++;
  if (n !== 1) return -1;
  const code = CONTENT_TYPES.indexOf(headers['content-type'] ?? '\0');
  return code > 0 ? code << CT_SHIFT : -1;
}

export function contentTypeOf(flags: number): string | undefined {
  return CONTENT_TYPES[(flags & CT_MASK) >> CT_SHIFT] || undefined;
}

export function replyMetaBytes(headers: Record<string, string>): Uint8Array {
  return Buffer.from(JSON.stringify({ h: headers }));
}

export function readReplyMeta(from: Uint8Array): ReplyMeta {
  return JSON.parse(Buffer.from(from.buffer, from.byteOffset, from.length).toString('utf8')) as ReplyMeta;
}
