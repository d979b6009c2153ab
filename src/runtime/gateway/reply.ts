// A container's reply, checked and read: which packet holds the body (one the container handed to
// this gateway, or the request's own), its status and headers. And writing it to an HTTP client
// straight from the segment.
import type { ClientResponse } from '../http1/types.js';
import { NO_PACKET, type Frame } from '../../shm/frame.js';
import type { Descriptor, PacketPool } from '../../shm/pool.js';
import { discard, open, type FreeGuard } from '../envelope.js';
import { FLAG_REUSED, contentTypeOf, readReplyMeta } from '../meta.js';

export interface ParsedReply {
  frame: Frame;
  pool: PacketPool;
  /** The packet holding the body: a new one handed to this gateway, or the request's own (`reused`). */
  desc: Descriptor;
  length: number;
  reused: boolean;
  status: number;
  headers: Record<string, string | number>;
}

/**
 * Reads a reply frame that carries a packet. Throws when the frame lies: a packet this gateway was
 * not handed, or one of a request it still has in flight, or lengths past their packets. On
 * success the body packet is the caller's; a metadata packet of its own has been read and freed.
 */
export function parseReply(pool: PacketPool, f: Frame, requestDesc: Descriptor, guard: FreeGuard): ParsedReply {
  const reused = (f.flags & FLAG_REUSED) !== 0;
  const o = open(pool, f, reused ? requestDesc : undefined);
  if (!reused && (pool.owner(o.desc) !== guard.owner || guard.inFlight.has(f.index))) throw new Error(`reply packet ${f.index} was not handed to the gateway`);
  const ct = contentTypeOf(f.flags);
  const headers: Record<string, string | number> = f.metaLength ? { ...readReplyMeta(o.meta).h } : ct ? { 'content-type': ct } : {};
  if (f.metaIndex !== NO_PACKET) discard(pool, { ...f, index: NO_PACKET }, true, guard);
  return { frame: f, pool, desc: o.desc, length: f.length, reused, status: f.status >= 100 && f.status <= 599 ? f.status : 200, headers };
}

/**
 * Writes a reply to an HTTP client: headers, then the body straight from its packet. Returns an
 * error message when Node refuses a header the handler set (bad characters); nothing was sent then,
 * and `beforeBody` was not called.
 */
export function respond(res: ClientResponse, r: ParsedReply, requestId: number, beforeBody?: () => void): string | undefined {
  r.headers['content-length'] = r.length;
  r.headers['x-request-id'] = requestId;
  try {
    res.writeHead(r.status, r.headers);
  } catch (err) {
    return (err as Error).message;
  }
  // What must be true before the client can have its answer (a count a reader may look for).
  beforeBody?.();
  res.end(r.pool.view(r.desc, r.length));
  return undefined;
}
