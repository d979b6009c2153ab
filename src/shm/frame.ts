// Descriptor frames: the only thing that crosses a socket on the request path. Fixed 48 bytes,
// little-endian, so a reader can validate a frame without allocating and many frames go out in
// one write under load.
import { ShmError } from './errors.js';

/**
 * 48 bytes: the packet, and a second packet for metadata when body + metadata do not fit in one
 * (a body the size of the largest class); under one cache line, 85 frames per 4 KiB write.
 */
export const FRAME_BYTES = 48;
/** First two bytes of every frame; garbage on a socket fails this check at once. */
export const FRAME_MAGIC = 0xfaf1;

export const FrameType = {
  /** gateway → container: a request packet. */
  Request: 1,
  /** container → gateway: the reply packet (or an error status with index 0xffffffff). */
  Reply: 2,
  /** container → gateway, first frame: functionId, deployment (generation), replica (requestId), pid (index). */
  Hello: 3,
  /** container → gateway: stop sending me work, I am draining. */
  Drain: 4,
  /** gateway → container: cancel requestId (timed out or client gone). */
  Cancel: 5,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];
const MAX_TYPE = 5;

/** Marks a reply that carries no packet (an error status only). */
export const NO_PACKET = 0xffffffff;

export interface Frame {
  type: FrameTypeValue;
  flags: number;
  index: number;
  generation: number;
  length: number;
  metaLength: number;
  functionId: number;
  requestId: number;
  status: number;
  /** Packet holding the metadata when it is not right after the body, else NO_PACKET. */
  metaIndex: number;
  metaGeneration: number;
}

export function encodeFrame(f: Frame, buf: Uint8Array, at = 0): void {
  const v = new DataView(buf.buffer, buf.byteOffset + at, FRAME_BYTES);
  v.setUint16(0, FRAME_MAGIC, true);
  v.setUint8(2, f.type);
  v.setUint8(3, f.flags);
  v.setUint32(4, f.index, true);
  v.setInt32(8, f.generation, true);
  v.setUint32(12, f.length, true);
  v.setUint32(16, f.metaLength, true);
  v.setUint32(20, f.functionId, true);
  v.setUint32(24, f.requestId, true);
  v.setUint16(28, f.status, true);
  v.setUint16(30, 0, true);
  v.setUint32(32, f.metaIndex, true);
  v.setInt32(36, f.metaGeneration, true);
  v.setUint32(40, 0, true);
  v.setUint32(44, 0, true);
}

export function frameBuffer(f: Frame): Buffer {
  const b = Buffer.allocUnsafe(FRAME_BYTES);
  encodeFrame(f, b);
  return b;
}

/** Decodes and validates one frame; throws ShmError('EBADFRAME') naming what is wrong. */
export function decodeFrame(buf: Uint8Array, at = 0): Frame {
  if (buf.length - at < FRAME_BYTES) throw new ShmError(`truncated frame: ${buf.length - at} of ${FRAME_BYTES} bytes`, 'EBADFRAME');
  const v = new DataView(buf.buffer, buf.byteOffset + at, FRAME_BYTES);
  const magic = v.getUint16(0, true);
  if (magic !== FRAME_MAGIC) throw new ShmError(`bad frame magic 0x${magic.toString(16)}`, 'EBADFRAME');
  const type = v.getUint8(2);
  if (type < 1 || type > MAX_TYPE) throw new ShmError(`unknown frame type ${type}`, 'EBADFRAME');
  if (v.getUint16(30, true) !== 0 || v.getUint32(40, true) !== 0 || v.getUint32(44, true) !== 0) throw new ShmError('reserved frame bytes are not zero', 'EBADFRAME');
  const status = v.getUint16(28, true);
  if (status > 999) throw new ShmError(`frame status ${status} out of range`, 'EBADFRAME');
  return {
    type: type as FrameTypeValue,
    flags: v.getUint8(3),
    index: v.getUint32(4, true),
    generation: v.getInt32(8, true),
    length: v.getUint32(12, true),
    metaLength: v.getUint32(16, true),
    functionId: v.getUint32(20, true),
    requestId: v.getUint32(24, true),
    status,
    metaIndex: v.getUint32(32, true),
    metaGeneration: v.getInt32(36, true),
  };
}

/**
 * Splits a byte stream into frames. Keeps a partial frame across chunks; a bad frame throws, and
 * the caller drops that connection (one bad peer never affects another).
 */
export class FrameReader {
  private pending: Buffer | null = null;

  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let at = 0;
    while (buf.length - at >= FRAME_BYTES) {
      onFrame(decodeFrame(buf, at));
      at += FRAME_BYTES;
    }
    if (at < buf.length) this.pending = Buffer.from(buf.subarray(at));
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get buffered(): number {
    return this.pending ? this.pending.length : 0;
  }
}
