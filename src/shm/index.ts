export { ShmError, isShmError, readOnlyError, type ShmErrorCode } from './errors.js';
export { Segment, segmentName, pidAlive, fmtBytes, shmRoom, SHM_DIR, SEGMENT_PREFIX, type CreateOptions, type ShmRoom, type SegmentClaim } from './segment.js';
export { PacketPool, isExhausted, type Descriptor, type Exhausted, type ClassUsage, type PacketInfo } from './pool.js';
export { FrameReader, FrameType, FRAME_BYTES, NO_PACKET, decodeFrame, encodeFrame, frameBuffer, type Frame } from './frame.js';
export { computeLayout, DEFAULT_CLASSES, LAYOUT_VERSION, MAGIC, type ClassSpec, type Layout } from './layout.js';
export { FunctionStats, ProcessStats, H_TOTAL, H_QUEUE, H_CONTAINER, H_REPLY } from './stats.js';
export { ProcessTable, PROC_STATES, type ProcEntry, type ProcState } from './proctable.js';
export { HistogramSnapshot, bucketIndex, bucketLow, bucketHigh } from './histogram.js';
export * as counters from './counters.js';
