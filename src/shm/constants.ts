// The byte map of a segment: every offset, word index and limit, each with the reason for its
// value. Pure data; the layout computation is layout.ts, the header codec header.ts.
import { HISTOGRAM_SLOTS } from './histogram.js';
/** 'FAAS' little-endian: a segment that does not start with this is not ours. */
export const MAGIC = 0x53414146;
/** Bumped on any change to the byte layout; an attach with a different value is refused. */
export const LAYOUT_VERSION = 4;
/** The header fits in one page so that page is all `top` touches to identify a segment. */
export const HEADER_BYTES = 4096;
/**
 * Up to 16 size classes: every power of two from 4 KiB to 128 MiB (the default list, 4 KiB to
 * 16 MiB, has 13), and the class table (16 × 32 bytes) still fits the header page.
 */
export const MAX_CLASSES = 16;
/** Smallest packet class: below 256 B the packet's 32-byte table entry costs over 1/8 of the packet. */
export const MIN_CLASS_BYTES = 256;
/** Largest packet class: one JS view (native viewBytes) is 1 GiB and a packet never straddles two. */
export const MAX_CLASS_BYTES = 1 << 30;
/** Most function ids a segment has stats records for; function ids are 0 .. this − 1. */
export const MAX_FUNCTIONS = 4096;
/** Most process-table slots; 4096 processes is far beyond one host's useful replica count. */
export const MAX_PROC_SLOTS = 4096;
/** Fewest process-table slots: the supervisor, the gateway and at least two containers. */
export const MIN_PROC_SLOTS = 4;
/** Most gateways writing function stats: one record block each, summed by readers. */
export const MAX_FN_WRITERS = 64;
/** Most per-process stats records in one segment. */
export const MAX_STATS_SLOTS = 4096;
/** A segment is at least one page beyond its header: its tables always have room to exist. */
export const MIN_SEGMENT_BYTES = 8192;

/**
 * What a segment holds. The runtime segment: the process table and every stats record the
 * supervisor and gateways write, no packets; only they map it. A domain segment: one security
 * domain's packets and its containers' own stats; only the gateways and that domain's containers
 * map it, so a container can neither read another domain's requests nor corrupt what the runtime
 * relies on.
 */
export const KIND_RUNTIME = 1;
export const KIND_DOMAIN = 2;
export type SegmentKind = 'runtime' | 'domain';
/** The stats records start on a cache-line boundary, so no record shares a line with the counters. */
export const CACHE_LINE = 64;
/** Bytes per word of the i32 tables (process table, packet table, bitmaps, counters). */
export const I32_BYTES = 4;
/** Bytes per word of the f64 stats records. */
export const F64_BYTES = 8;
/** Packets per free-bitmap word (one bit each in an i32). */
export const BITMAP_BITS = 32;
/** i32 words per class of allocation counters: [inUse, highWater], updated with Atomics. */
export const CLASS_COUNTER_WORDS = 2;
/**
 * i32 words of a domain's memory counters, after the class counters: the budget charged now, and
 * the waits and refusals for memory (see POOL_*), updated with Atomics by every process.
 */
export const POOL_COUNTER_WORDS = 4;
/** Budget charged now, in BUDGET_UNIT units: a packet is charged its class size from claim to free. */
export const POOL_CHARGED = 0;
/** Allocations that found the domain short and waited (gateways and containers count them). */
export const POOL_WAITS = 1;
/** Allocations refused for memory after waiting, or at once because they could never fit. */
export const POOL_REFUSED = 2;
/**
 * The unit the budget is charged in: the smallest class there can be, so every packet is charged
 * exactly its size, and an i32 counts up to 512 GiB of packets.
 */
export const BUDGET_UNIT = 256;
/** The largest budget one domain can have: what the i32 counter holds in BUDGET_UNITs. */
export const MAX_BUDGET = 0x7fffffff * BUDGET_UNIT;
/**
 * Most packets a class gets when its count is derived from the budget. The small classes would
 * otherwise have hundreds of thousands (a 1 GiB budget is 262,144 packets of 4 KiB), and every
 * table scan (top, shm inspect, reclaim after a crash) walks them all: with 4096, a 1 GiB domain
 * has ~33,000 packets (the four-class layout before it had ~37,000), and 4096 small requests of
 * one domain in flight at once before they spill into the next class.
 */
export const CLASS_PACKET_CAP = 4096;

// Header fields: byte offsets into the first page. u32 unless marked f64 (sizes and offsets that
// can exceed 4 GiB, and the creation time in ms). Bytes 96..127 are free for future fields.
/** u32 MAGIC; written last by the creator, so a reader that sees it sees a complete header. */
export const HDR_MAGIC = 0;
/** u32 LAYOUT_VERSION. */
export const HDR_VERSION = 4;
/** f64 segment size in bytes (the file's size; compared on attach to catch truncation). */
export const HDR_SIZE = 8;
/** u32 pid of the process that created the segment (a dead creator makes a segment a candidate for cleanup). */
export const HDR_CREATOR = 16;
/** f64 creation time, ms since the epoch; packet ages and process times are relative to it. */
export const HDR_CREATED_AT = 24;
/** u32 number of size classes (1 .. MAX_CLASSES). */
export const HDR_CLASS_COUNT = 32;
/** u32 packets in all classes together. */
export const HDR_PACKET_COUNT = 36;
/** u32 byte offset of the process table. */
export const HDR_PROC_OFFSET = 40;
/** u32 process-table slots. */
export const HDR_PROC_SLOTS = 44;
/** u32 byte offset of the packet table. */
export const HDR_PACKET_OFFSET = 48;
/** u32 byte offset of the per-class free bitmaps. */
export const HDR_BITMAP_OFFSET = 52;
/** u32 byte offset of the per-function stats records. */
export const HDR_FN_STATS_OFFSET = 56;
/** u32 function stats records (function ids 0 .. maxFunctions − 1). */
export const HDR_MAX_FUNCTIONS = 60;
/** u32 byte offset of the per-process stats records. */
export const HDR_PROC_STATS_OFFSET = 64;
/** u32 end of all metadata; the first packet arena starts at or after it. */
export const HDR_META_END = 68;
/** u32 KIND_RUNTIME or KIND_DOMAIN. */
export const HDR_KIND = 72;
/** u32 blocks of function stats records (one per gateway). */
export const HDR_FN_WRITERS = 76;
/** u32 per-process stats records. */
export const HDR_STATS_SLOTS = 80;
/** u32 a domain segment's index among its instance's domains (process-table entries refer to it). */
export const HDR_DOMAIN_INDEX = 84;
/**
 * f64 a domain's budget: the bytes of packets it may hold at once (its share of segment.size).
 * Each class has packets for all of it, so the segment is several times larger (tmpfs backs only
 * touched pages); the charged counter (POOL_CHARGED) holds the domain to it.
 */
export const HDR_BUDGET = 88;

/** Byte offset of the class table: past the fixed fields (end at 96), on a 64-byte line, with room to grow. */
export const CLASS_TABLE_OFFSET = 128;
/** Bytes per class record in the header (f64 arena offset + six u32 + 0 padding = 32, two per cache line). */
export const CLASS_RECORD_BYTES = 32;
// Class record fields, byte offsets within a record.
/** f64 byte offset of the class's packet arena (can exceed 4 GiB). */
export const CLS_ARENA = 0;
/** u32 packet capacity in bytes. */
export const CLS_SIZE = 8;
/** u32 packets in the class. */
export const CLS_COUNT = 12;
/** u32 index of the class's first packet in the packet table. */
export const CLS_FIRST = 16;
/** u32 i32-word index of the class's first bitmap word. */
export const CLS_BITMAP_WORD = 20;
/** u32 bitmap words of the class (32 packets each). */
export const CLS_BITMAP_WORDS = 24;
/** u32 i32-word index of the class's [inUse, highWater] counters. */
export const CLS_COUNTER_WORD = 28;
/** Byte offset of the instance name: right after the class table (128 + 16 × 32 = 640). */
export const NAME_OFFSET = CLASS_TABLE_OFFSET + MAX_CLASSES * CLASS_RECORD_BYTES;
/** The instance name is stored for `shm ls`; 64 bytes matches the config's name limit. */
export const NAME_BYTES = 64;
/** A domain segment's domain name, right after the instance name (32 bytes: the config's limit is 31). */
export const DOMAIN_OFFSET = NAME_OFFSET + NAME_BYTES;
export const DOMAIN_BYTES = 32;

/** Packet table entry: 8 × i32 = 32 bytes, so two entries share a 64-byte cache line at most. */
export const PKT_WORDS = 8;
/** pid that holds the packet; 0 = free. The allocation truth, claimed by CAS. */
export const PKT_OWNER = 0;
/** Generation: bumped when the packet is freed; descriptors carry it, so a stale one is refused. */
export const PKT_GEN = 1;
/** Bytes of the body the holder put in the packet (for `shm inspect` and usage().bytesInUse). */
export const PKT_LENGTH = 2;
/** Function id of the request the packet carries (label()), for `shm inspect`. */
export const PKT_FUNCTION = 3;
/** Request id the packet carries (label(); read as u32), for `shm inspect`. */
export const PKT_REQUEST = 4;
/** ms since segment creation at alloc, for the packet's age in `shm inspect`. */
export const PKT_TIME = 5;
/** Bytes of request metadata behind the body (label()), for `shm inspect`. */
export const PKT_META = 6;
/** Index of the packet's size class: set once at init, never changes. */
export const PKT_CLASS = 7;

/** Process table slot: 16 × i32 = 64 bytes, one cache line, one writer (the supervisor). */
export const PROC_WORDS = 16;
/** pid in this slot; 0 = free. Stored last by register(), so a reader never sees a half-filled slot. */
export const PROC_PID = 0;
/** Index into ROLES. */
export const PROC_ROLE = 1;
/** Function id a container serves (0 for other roles). */
export const PROC_FUNCTION = 2;
/** Replica number of a container within its function. */
export const PROC_REPLICA = 3;
/** Index into PROC_STATES (proctable.ts). */
export const PROC_STATE = 4;
/** Seconds since segment creation at the last heartbeat. */
export const PROC_HEARTBEAT = 5;
/** Times the supervisor restarted this process. */
export const PROC_RESTARTS = 6;
/** Seconds since segment creation when the process was registered. */
export const PROC_STARTED = 7;
/** A container's domain index (its domain segment's HDR_DOMAIN_INDEX); -1 for other roles. */
export const PROC_DOMAIN = 8;
/** Where the process writes its stats: its slot in its domain segment (containers) or in this table. */
export const PROC_STATS_SLOT = 9;
/** The isolation the process runs under: SANDBOX_* bits, the Landlock ABI in bits 8..15. */
export const PROC_SANDBOX = 10;
/** The deployment a container belongs to. */
export const PROC_DEPLOYMENT = 11;
/**
 * Lines of its output the supervisor cut at `logs.maxLine`: an f64 over words 12-13 (one writer;
 * an aligned 8-byte store is not torn), since the replica's first start (restarts carry it over).
 */
export const PROC_LOG_CUT = 12;
/** Lines of its output dropped (over `logs.rate`, or the log file's queue full): an f64 over words 14-15, as PROC_LOG_CUT. */
export const PROC_LOG_DROPPED = 14;
export const SANDBOX_UID = 1;
export const SANDBOX_LANDLOCK = 2;
export const ROLES = ['none', 'supervisor', 'gateway', 'container', 'queue', 'spare'] as const;
export type Role = (typeof ROLES)[number];

// Per-function stats record, f64 words written by the gateway only (single writer, no atomics).
/** Counter words at the start of a function record (14 used, the rest spare), then the histograms. */
export const FN_COUNTERS = 16;
/** Requests received for the function. */
export const FN_REQUESTS = 0;
/** Replies with a 2xx status. */
export const FN_2XX = 1;
/** Replies with a 4xx status. */
export const FN_4XX = 2;
/** Replies with a 5xx status. */
export const FN_5XX = 3;
/** Request body bytes received. */
export const FN_BYTES_IN = 4;
/** Reply body bytes sent. */
export const FN_BYTES_OUT = 5;
/** Requests currently being handled (a gauge). */
export const FN_INFLIGHT = 6;
/** 503s: pool or queue exhausted. */
export const FN_REJECTED = 7;
/** 504s: the function did not answer in time. */
export const FN_TIMEOUTS = 8;
/** Current queue depth (a gauge). */
export const FN_QUEUED = 9;
/** A flow's row: packets the gateway copied for it (a domain crossing, or a shortened reply-in-place of a shared input). */
export const FN_COPIES = 10;
/** A flow's row: bytes it copied across domains (inside one domain a packet goes on as it is). */
export const FN_COPIED_BYTES = 11;
/** Requests (and calls, flow steps) that found their domain short of packet memory and waited for it. */
export const FN_MEM_WAITS = 12;
/** Of those and the ones that could never fit, how many were refused for memory (503 after segment.wait, or 413). */
export const FN_MEM_REFUSED = 13;
/** Histograms per function: end to end, time queued in the proxy, container round trip, reply write. */
export const FN_HISTOGRAMS = 4;
/** f64 words per function record: counters, then FN_HISTOGRAMS histograms. */
export const FN_RECORD_F64 = FN_COUNTERS + FN_HISTOGRAMS * HISTOGRAM_SLOTS;

// Per-process stats record, f64 words written only by that process.
/** Counter words at the start of a process record; then MAX_CLASSES spare words and the histogram. */
export const PS_COUNTERS = 16;
/** Requests this process handled. */
export const PS_REQUESTS = 0;
/** Of those, how many failed. */
export const PS_ERRORS = 1;
/** Function id this process serves (set by reset()). */
export const PS_FUNCTION = 2;
/** Polling for answers (runtime/spin.ts): spins answered. */
export const PS_POLL_HITS = 11;
/** Spins that ran out of time without an answer. */
export const PS_POLL_MISSES = 12;
/** Waits that went straight to epoll (answers had been too slow to spin for). */
export const PS_POLL_PARKED = 13;
/** CPU µs spent spinning. */
export const PS_POLL_US = 14;
/** f64 words per process record: counters, MAX_CLASSES spare words, the handler-time histogram. */
export const PS_RECORD_F64 = PS_COUNTERS + MAX_CLASSES + HISTOGRAM_SLOTS;

