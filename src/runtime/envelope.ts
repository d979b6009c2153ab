// The packet envelope: how a body and its metadata become packets and a frame, and a frame
// becomes packets and views again. Both ends of a hop use it (the gateway for requests, a
// container for replies), so the protocol is written once: seal (alloc with the metadata fallback,
// metadata, labels, hand-over, frame), open (describe, check, metadata view) and discard (free
// what a frame carries, once).
import { NO_PACKET, type Frame, type FrameTypeValue } from '../shm/frame.js';
import { isExhausted, type Descriptor, type Exhausted, type PacketPool } from '../shm/pool.js';

/** The fields of a frame that are not about packets. */
export interface FrameHead {
  type: FrameTypeValue;
  flags: number;
  functionId: number;
  requestId: number;
  status: number;
}

/** What seal() made: the frame to send, and the metadata packet when the body's had no room. */
export interface Sealed {
  frame: Frame;
  metaDesc?: Descriptor;
}

/**
 * A packet for `length` body bytes with room for `metaLength` bytes of metadata behind it when that
 * keeps it in the class the body needs anyway, else one for the body alone: the metadata then gets
 * a small packet of its own at seal(), and a 1 MiB body takes a 1 MiB packet, not a 2 MiB one.
 */
export function allocFor(pool: PacketPool, length: number, metaLength: number, limit?: number): Descriptor | Exhausted {
  const together = metaLength > 0 && pool.classFor(length + metaLength) === pool.classFor(length);
  return pool.alloc(together ? length + metaLength : length, process.pid, limit);
}

/** A body's packet and, when its metadata does not go behind it, the metadata's own. */
export interface Packets {
  body: Descriptor;
  meta: Descriptor | undefined;
}

/**
 * Both packets a body and its metadata need, or neither: the body's (with the metadata behind it
 * when that keeps its class, as allocFor) and, if not, a small one for the metadata, which seal()
 * then takes. `apart`: the metadata always gets its own (a body packet shared by several calls).
 */
export function allocPackets(pool: PacketPool, length: number, metaLength: number, limit?: number, apart = false): Packets | Exhausted {
  const body = apart ? pool.alloc(length, process.pid, limit) : allocFor(pool, length, metaLength, limit);
  if (isExhausted(body) || metaLength === 0 || (!apart && length + metaLength <= body.capacity)) return isExhausted(body) ? body : { body, meta: undefined };
  const meta = pool.alloc(metaLength, process.pid, limit);
  if (!isExhausted(meta)) return { body, meta };
  pool.free(body);
  return meta;
}

/** The bytes of budget allocPackets() would take for this body and metadata; -1 when no class holds the body. */
export function packetBytes(pool: PacketPool, length: number, metaLength: number, apart = false): number {
  const size = (n: number) => {
    const c = pool.classFor(n);
    return c < 0 ? -1 : pool.classes[c].size;
  };
  const together = !apart && metaLength > 0 && pool.classFor(length + metaLength) === pool.classFor(length);
  const body = size(together ? length + metaLength : length);
  if (body < 0) return -1;
  return together || metaLength === 0 ? body : body + size(metaLength);
}

/** Who frees the packets once the frame is received: `to`, the body too unless it is already theirs. */
export interface HandOver {
  to: number;
  body: boolean;
}

/**
 * Writes the metadata behind the body (or into a packet of its own: `given`, from allocPackets, or
 * one allocated here), labels the packets for `shm inspect`, hands them over when asked (to the
 * process that will free them), and builds the frame. Returns null, having allocated nothing that
 * stays, when the pool has no packet for the metadata; the body packet is then still the caller's.
 */
export function seal(pool: PacketPool, desc: Descriptor, length: number, meta: string | Uint8Array, metaLength: number, head: FrameHead, handOver?: HandOver, metaApart = false, given?: Descriptor): Sealed | null {
  let metaDesc: Descriptor | undefined;
  if (metaLength > 0) {
    let target = desc;
    let at = length;
    // Apart: the body packet is shared by several requests (a flow's parallel branches), each with
    // its own metadata; or the metadata would push the body into the next class.
    if (given || metaApart || length + metaLength > desc.capacity) {
      const m = given ?? pool.alloc(metaLength);
      if (isExhausted(m)) return null;
      target = metaDesc = m;
      at = 0;
    }
    const v = pool.view(target, at + metaLength);
    if (typeof meta === 'string') Buffer.from(v.buffer, v.byteOffset + at, metaLength).write(meta, 'utf8');
    else v.set(meta, at);
  }
  pool.label(desc, head.functionId, head.requestId, length, metaDesc ? 0 : metaLength);
  if (metaDesc) pool.label(metaDesc, head.functionId, head.requestId, metaLength);
  if (handOver) {
    if (handOver.body) pool.transfer(desc, handOver.to);
    if (metaDesc) pool.transfer(metaDesc, handOver.to);
  }
  const frame: Frame = {
    type: head.type, flags: head.flags, index: desc.index, generation: desc.generation, length, metaLength,
    functionId: head.functionId, requestId: head.requestId, status: head.status,
    metaIndex: metaDesc ? metaDesc.index : NO_PACKET, metaGeneration: metaDesc ? metaDesc.generation : 0,
  };
  return metaDesc ? { frame, metaDesc } : { frame };
}

/** A frame's packets, checked: the body's descriptor and a view of its metadata. */
export interface Opened {
  desc: Descriptor;
  meta: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/**
 * Checks a received frame against the pool (index, generation, lengths within their packets) and
 * returns its body descriptor and metadata view. `own` is the body's descriptor when the frame's
 * packet is one the receiver already holds (a reply written into its request). Throws on any
 * mismatch: a frame comes from another process, and from a container it is untrusted.
 */
export function open(pool: PacketPool, f: Frame, own?: Descriptor): Opened {
  const desc = own ?? pool.describe(f.index, f.generation);
  if (f.length > desc.capacity) throw new Error(`frame length ${f.length} exceeds its packet (${desc.capacity})`);
  if (f.metaLength === 0) return { desc, meta: EMPTY };
  if (f.metaIndex === NO_PACKET) {
    if (f.length + f.metaLength > desc.capacity) throw new Error(`metadata of ${f.metaLength} bytes behind a ${f.length}-byte body exceeds its packet (${desc.capacity})`);
    return { desc, meta: pool.view(desc, f.length + f.metaLength).subarray(f.length) };
  }
  const m = pool.describe(f.metaIndex, f.metaGeneration);
  if (f.metaLength > m.capacity) throw new Error(`metadata length ${f.metaLength} exceeds its packet (${m.capacity})`);
  return { desc, meta: pool.view(m, f.metaLength) };
}

/**
 * What a receiver may free of a frame that came from a container (whose code is not trusted): only
 * packets it holds (`owner`), and none of the requests it still has in flight (`inFlight`, packet
 * indexes), which a lying frame could name to have another request's packet freed under it.
 */
export interface FreeGuard {
  owner: number;
  inFlight: PacketSet;
}

/**
 * A set of packet indices of one pool, as a byte per packet. A Set of numbers that come and go with
 * every request allocates a new hash table every few dozen of them; this allocates nothing after
 * it is made. An index outside the pool is never in it.
 */
export class PacketSet {
  private readonly marks: Uint8Array;

  constructor(packets: number) {
    this.marks = new Uint8Array(packets);
  }

  add(index: number): void {
    if (index >= 0 && index < this.marks.length) this.marks[index] = 1;
  }

  delete(index: number): void {
    if (index >= 0 && index < this.marks.length) this.marks[index] = 0;
  }

  has(index: number): boolean {
    return this.marks[index] === 1;
  }
}

/**
 * Frees what a frame carries: its body packet (unless `keepBody`: the receiver's own packet) and
 * its metadata packet, within `guard` when given. Returns the first failure's message, or
 * undefined; a failure never stops the other free.
 */
export function discard(pool: PacketPool, f: Frame, keepBody: boolean, guard?: FreeGuard): string | undefined {
  const body = !keepBody && f.index !== NO_PACKET ? freeOne(pool, f.index, f.generation, guard) : undefined;
  const meta = f.metaIndex !== NO_PACKET ? freeOne(pool, f.metaIndex, f.metaGeneration, guard) : undefined;
  return body ?? meta;
}

/** Frees one packet within `guard`; the failure's message, or undefined. */
function freeOne(pool: PacketPool, index: number, generation: number, guard?: FreeGuard): string | undefined {
  try {
    if (guard?.inFlight.has(index)) throw new Error(`packet ${index} belongs to a request in flight`);
    pool.free(pool.describe(index, generation), guard?.owner);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
