export { ShmError, isShmError, type ShmErrorCode } from './errors.js';
export { Segment, segmentName, pidAlive, fmtBytes, SHM_DIR, SEGMENT_PREFIX, type CreateOptions } from './segment.js';
export { PacketPool, isExhausted, type Descriptor, type Exhausted, type ClassUsage, type PacketInfo } from './pool.js';
export { FrameReader, FrameType, FRAME_BYTES, NO_PACKET, decodeFrame, encodeFrame, frameBuffer, type Frame } from './frame.js';
export { computeLayout, DEFAULT_CLASSES, LAYOUT_VERSION, MAGIC, type ClassSpec, type Layout } from './layout.js';
