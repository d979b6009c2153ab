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
  /** gateway → container: nobody wants the answer to requestId any more (its ctx.signal aborts). */
  Cancel: 5,
  /**
   * container → gateway: ctx.invoke(): call function `functionId` with the packet named (the
   * caller's input, or one handed over); requestId is the call's id, metadata names the caller's
   * request and the callee.
   */
  Invoke: 6,
  /** gateway → container: the answer to call requestId: its status and reply packet (handed to the caller), or a status only. */
  InvokeReply: 7,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];
const MAX_TYPE = 7;

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

// Little-endian byte access without a DataView: one is an allocation per frame, and this runs for
// every frame in both directions.
const put16 = (b: Uint8Array, o: number, v: number) => {
  b[o] = v;
  b[o + 1] = v >>> 8;
};
const put32 = (b: Uint8Array, o: number, v: number) => {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
};
const get16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const getI32 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
const getU32 = (b: Uint8Array, o: number) => getI32(b, o) >>> 0;

/**
 * Writes `f` at `at`. Throws ShmError('ERANGE') naming the field when one does not fit its wire
 * width or cannot be valid (decodeFrame would refuse it), instead of silently wrapping it.
 */
export function encodeFrame(f: Frame, buf: Uint8Array, at = 0): void {
  if (!fieldsValid(f)) throw badField(f);
  if (buf.length - at < FRAME_BYTES) throw new ShmError(`encodeFrame: ${buf.length - at} bytes left, a frame needs ${FRAME_BYTES}`, 'ERANGE');
  put16(buf, at, FRAME_MAGIC);
  buf[at + 2] = f.type;
  buf[at + 3] = f.flags;
  put32(buf, at + 4, f.index);
  put32(buf, at + 8, f.generation);
  put32(buf, at + 12, f.length);
  put32(buf, at + 16, f.metaLength);
  put32(buf, at + 20, f.functionId);
  put32(buf, at + 24, f.requestId);
  put16(buf, at + 28, f.status);
  put16(buf, at + 30, 0);
  put32(buf, at + 32, f.metaIndex);
  put32(buf, at + 36, f.metaGeneration);
  put32(buf, at + 40, 0);
  put32(buf, at + 44, 0);
}

export function frameBuffer(f: Frame): Buffer {
  const b = Buffer.allocUnsafe(FRAME_BYTES);
  encodeFrame(f, b);
  return b;
}

/** Decodes and validates one frame; throws ShmError('EBADFRAME') naming what is wrong. */
export function decodeFrame(buf: Uint8Array, at = 0): Frame {
  if (buf.length - at < FRAME_BYTES) throw new ShmError(`truncated frame: ${buf.length - at} of ${FRAME_BYTES} bytes`, 'EBADFRAME');
  const magic = get16(buf, at);
  if (magic !== FRAME_MAGIC) throw new ShmError(`bad frame magic 0x${magic.toString(16)}`, 'EBADFRAME');
  const type = buf[at + 2];
  if (type < 1 || type > MAX_TYPE) throw new ShmError(`unknown frame type ${type}`, 'EBADFRAME');
  if (get16(buf, at + 30) !== 0 || getI32(buf, at + 40) !== 0 || getI32(buf, at + 44) !== 0) throw new ShmError('reserved frame bytes are not zero', 'EBADFRAME');
  const status = get16(buf, at + 28);
  if (status > MAX_STATUS) throw new ShmError(`frame status ${status} out of range`, 'EBADFRAME');
  const length = getU32(buf, at + 12);
  if (length > MAX_FRAME_LENGTH) throw new ShmError(`frame length ${length} is larger than any packet (${MAX_FRAME_LENGTH})`, 'EBADFRAME');
  const metaLength = getU32(buf, at + 16);
  if (metaLength > MAX_FRAME_LENGTH) throw new ShmError(`frame metadata length ${metaLength} is larger than any packet (${MAX_FRAME_LENGTH})`, 'EBADFRAME');
  const functionId = getU32(buf, at + 20);
  if (functionId > MAX_FRAME_FUNCTION) throw new ShmError(`frame function id ${functionId} out of range (0..${MAX_FRAME_FUNCTION})`, 'EBADFRAME');
  // flags: any u8. Their bits belong to the runtime (runtime/meta.ts), which reads the ones it knows.
  return {
    type: type as FrameTypeValue,
    flags: buf[at + 3],
    index: getU32(buf, at + 4),
    generation: getI32(buf, at + 8),
    length,
    metaLength,
    functionId,
    requestId: getU32(buf, at + 24),
    status,
    metaIndex: getU32(buf, at + 32),
    metaGeneration: getI32(buf, at + 36),
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
