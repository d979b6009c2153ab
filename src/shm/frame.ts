// Descriptor frames: the only thing that crosses a socket on the request path. Fixed 48 bytes,
// little-endian, so a reader can validate a frame without allocating and many frames go out in
// one write under load.
import { ShmError } from './errors.js';
import { MAX_CLASS_BYTES, MAX_FUNCTIONS } from './constants.js';

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
  /** Reserved (gateway → container: cancel requestId); not sent yet (the proxy drops a container that sends it). */
  Cancel: 5,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];
const MAX_TYPE = 5;

/** Marks a reply that carries no packet (an error status only). */
export const NO_PACKET = 0xffffffff;
/** Largest status a frame carries: HTTP statuses are three digits. */
export const MAX_STATUS = 999;
/** Largest body or metadata length: nothing longer fits in a packet (the largest class is 1 GiB). */
export const MAX_FRAME_LENGTH = MAX_CLASS_BYTES;
/** Largest function id: a segment has at most MAX_FUNCTIONS stats records, ids 0 .. MAX_FUNCTIONS − 1. */
export const MAX_FRAME_FUNCTION = MAX_FUNCTIONS - 1;

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

/**
 * Every field in range for its wire width and meaning, decided with a few integer comparisons (this
 * runs for every frame sent): `(x >>> 0) === x` holds exactly for integers 0 .. 2^32 − 1 and
 * `(x | 0) === x` for −2^31 .. 2^31 − 1 (NaN, fractions and undefined fail both).
 */
function fieldsValid(f: Frame): boolean {
  const type = f.type;
  return (
    (type & 7) === type && type >= 1 && type <= MAX_TYPE &&
    (f.flags & 0xff) === f.flags &&
    (f.index >>> 0) === f.index &&
    (f.generation | 0) === f.generation &&
    (f.length >>> 0) === f.length && f.length <= MAX_FRAME_LENGTH &&
    (f.metaLength >>> 0) === f.metaLength && f.metaLength <= MAX_FRAME_LENGTH &&
    (f.functionId >>> 0) === f.functionId && f.functionId <= MAX_FRAME_FUNCTION &&
    (f.requestId >>> 0) === f.requestId &&
    (f.status >>> 0) === f.status && f.status <= MAX_STATUS &&
    (f.metaIndex >>> 0) === f.metaIndex &&
    (f.metaGeneration | 0) === f.metaGeneration
  );
}

/** Off the hot path: names the first field fieldsValid() refused. */
function badField(f: Frame): ShmError {
  const u32 = (x: number) => (x >>> 0) === x;
  const i32 = (x: number) => (x | 0) === x;
  const checks: Array<[keyof Frame, boolean, string]> = [
    ['type', (f.type & 7) === f.type && f.type >= 1 && f.type <= MAX_TYPE, `a frame type 1..${MAX_TYPE}`],
    ['flags', (f.flags & 0xff) === f.flags, 'an integer 0..255 (u8)'],
    ['index', u32(f.index), 'an integer 0..4294967295 (u32; NO_PACKET for none)'],
    ['generation', i32(f.generation), 'an integer −2^31..2^31−1 (i32)'],
    ['length', u32(f.length) && f.length <= MAX_FRAME_LENGTH, `an integer 0..${MAX_FRAME_LENGTH} (the largest packet)`],
    ['metaLength', u32(f.metaLength) && f.metaLength <= MAX_FRAME_LENGTH, `an integer 0..${MAX_FRAME_LENGTH} (the largest packet)`],
    ['functionId', u32(f.functionId) && f.functionId <= MAX_FRAME_FUNCTION, `an integer 0..${MAX_FRAME_FUNCTION}`],
    ['requestId', u32(f.requestId), 'an integer 0..4294967295 (u32)'],
    ['status', u32(f.status) && f.status <= MAX_STATUS, `an integer 0..${MAX_STATUS}`],
    ['metaIndex', u32(f.metaIndex), 'an integer 0..4294967295 (u32; NO_PACKET for none)'],
    ['metaGeneration', i32(f.metaGeneration), 'an integer −2^31..2^31−1 (i32)'],
  ];
  const [field, , want] = checks.find(([, ok]) => !ok) ?? ['type', false, 'valid'];
  return new ShmError(`encodeFrame: ${field} ${String(f[field])} is out of range: it must be ${want}`, 'ERANGE');
}

/**
 * Writes `f` at `at`. Throws ShmError('ERANGE') naming the field when one does not fit its wire
 * width or cannot be valid (decodeFrame would refuse it), instead of silently wrapping it.
 */
export function encodeFrame(f: Frame, buf: Uint8Array, at = 0): void {
  if (!fieldsValid(f)) throw badField(f);
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
  if (status > MAX_STATUS) throw new ShmError(`frame status ${status} out of range`, 'EBADFRAME');
  const length = v.getUint32(12, true);
  if (length > MAX_FRAME_LENGTH) throw new ShmError(`frame length ${length} is larger than any packet (${MAX_FRAME_LENGTH})`, 'EBADFRAME');
  const metaLength = v.getUint32(16, true);
  if (metaLength > MAX_FRAME_LENGTH) throw new ShmError(`frame metadata length ${metaLength} is larger than any packet (${MAX_FRAME_LENGTH})`, 'EBADFRAME');
  const functionId = v.getUint32(20, true);
  if (functionId > MAX_FRAME_FUNCTION) throw new ShmError(`frame function id ${functionId} out of range (0..${MAX_FRAME_FUNCTION})`, 'EBADFRAME');
  // flags: any u8. Their bits belong to the runtime (runtime/meta.ts), which reads the ones it knows.
  return {
    type: type as FrameTypeValue,
    flags: v.getUint8(3),
    index: v.getUint32(4, true),
    generation: v.getInt32(8, true),
    length,
    metaLength,
    functionId,
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
