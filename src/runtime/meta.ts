// Request and reply metadata (headers, query, status) travel in the packet right after the body,
// as JSON, so the frame stays fixed-size and nothing but the descriptor crosses a socket.
import { NO_PACKET, type Frame } from '../shm/frame.js';
import { isExhausted, type Descriptor, type PacketPool } from '../shm/pool.js';

/** Frame flag on a reply: the reply is in the request's own packet (the handler returned its input). */
export const FLAG_REUSED = 1;

export interface RequestMeta {
  /** Request headers (lower-case names). */
  h: Record<string, string | string[] | undefined>;
  /** Raw query string, without '?'. */
  q: string;
}

export interface ReplyMeta {
  /** HTTP status. */
  s: number;
  /** Reply headers. */
  h?: Record<string, string>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function readMeta<T>(from: Uint8Array): T {
  return JSON.parse(decoder.decode(from)) as T;
}

export function metaBytes(value: RequestMeta | ReplyMeta): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}


export interface PlacedMeta {
  metaLength: number;
  metaIndex: number;
  metaGeneration: number;
  /** Set when the metadata needed a packet of its own. */
  metaDesc?: Descriptor;
}

/**
 * Puts metadata right after the body when it fits, else in a small packet of its own (a body the
 * size of the largest class). Returns null when the pool has no packet for it.
 */
export function placeMeta(pool: PacketPool, desc: Descriptor, length: number, meta: Uint8Array): PlacedMeta | null {
  if (length + meta.length <= desc.capacity) {
    pool.view(desc, length + meta.length).set(meta, length);
    return { metaLength: meta.length, metaIndex: NO_PACKET, metaGeneration: 0 };
  }
  const m = pool.alloc(meta.length);
  if (isExhausted(m)) return null;
  pool.view(m, meta.length).set(meta);
  return { metaLength: meta.length, metaIndex: m.index, metaGeneration: m.generation, metaDesc: m };
}

/** The metadata bytes a frame points at (validated through describe()). */
export function metaView(pool: PacketPool, f: Frame, desc: Descriptor): Uint8Array {
  if (f.metaLength === 0) return new Uint8Array(0);
  if (f.metaIndex === NO_PACKET) return pool.view(desc, f.length + f.metaLength).subarray(f.length);
  const m = pool.describe(f.metaIndex, f.metaGeneration);
  if (f.metaLength > m.capacity) throw new Error(`metadata length ${f.metaLength} exceeds its packet (${m.capacity})`);
  return pool.view(m, f.metaLength);
}
