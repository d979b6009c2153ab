// Whole-table scans of a pool, for readers (`top`, `shm inspect`, /metrics, the supervisor's
// checks): exact counts from the owner words, which are the allocation truth.
import { PKT_FUNCTION, PKT_GEN, PKT_LENGTH, PKT_OWNER, PKT_REQUEST, PKT_TIME, PKT_WORDS, POOL_REFUSED, POOL_WAITS } from './constants.js';
import { classOfPacket, type ClassLayout } from './layout.js';
import type { SegmentMemory } from './memory.js';
import type { ClassUsage, DomainMemory, PacketInfo } from './packet.js';

/** Per class: exact in-use count (from the owner words), high-water mark, resident bytes. */
export function classUsage(m: SegmentMemory): ClassUsage[] {
  return m.layout.classes.map((c) => oneClassUsage(m, c));
}

/**
 * One class's usage. Its callers only show or export the counts (`top`, `shm inspect`, /metrics):
 * plain loads, not Atomics. An aligned 32-bit word is never torn, and
 * a count taken while packets move is one moment's picture either way; what ordering Atomics would
 * add changes nothing a reader does with it. In unoptimised code (`top` stops V8's optimiser after
 * its first refresh) Atomics.load is a builtin call per word, ~20k words a domain.
 */
export function oneClassUsage(m: SegmentMemory, c: ClassLayout): ClassUsage {
  const base = m.layout.packetOffset / 4;
  const i32 = m.i32;
  let inUse = 0;
  let bytes = 0;
  for (let i = 0, e = base + c.firstPacket * PKT_WORDS; i < c.count; i++, e += PKT_WORDS) {
    if (i32[e + PKT_OWNER] !== 0) {
      inUse++;
      // A length word a container wrote could be anything: counted within the packet.
      bytes += Math.min(Math.max(i32[e + PKT_LENGTH], 0), c.size);
    }
  }
  // The counter is only a hint (a container of the domain can write it): bounded by the truth.
  const highWater = Math.min(c.count, Math.max(inUse, i32[c.counterWord + 1]));
  return {
    size: c.size,
    count: c.count,
    inUse,
    free: c.count - inUse,
    highWater,
    bytesInUse: bytes,
    packetBytes: inUse * c.size,
    // Every class reserves the whole budget: asking the kernel about the pages of one never used
    // (most of them) would cost readers milliseconds a refresh for nothing.
    touched: highWater > 0 ? m.resident(c.arenaOffset, c.count * c.size) : 0,
  };
}

/**
 * The domain's budget against the packets held (counted from the owner words, not the charged
 * counter, which crashes leave low and a container can change), and its waits and refusals.
 */
export function domainMemory(m: SegmentMemory, usage: ClassUsage[]): DomainMemory {
  const held = usage.reduce((a, c) => a + c.packetBytes, 0);
  const budget = m.layout.budget;
  // Counts a container of the domain could have written: one that is not a count reads as 0.
  const count = (w: number) => Math.max(0, m.layout.classes.length ? Atomics.load(m.i32, m.layout.poolWord + w) : 0);
  return { budget, held, free: Math.max(0, budget - held), waits: count(POOL_WAITS), refusals: count(POOL_REFUSED) };
}

/**
 * Bytes of the packets held now and the body bytes they carry (their length words, each within its
 * packet): one pass over the owner words, nothing resident measured. What the benchmark samples for
 * "bytes held per byte in flight".
 */
export function occupancy(m: SegmentMemory): { held: number; carried: number } {
  const base = m.layout.packetOffset / 4;
  let held = 0;
  let carried = 0;
  for (const c of m.layout.classes) {
    for (let i = 0; i < c.count; i++) {
      const e = base + (c.firstPacket + i) * PKT_WORDS;
      if (Atomics.load(m.i32, e + PKT_OWNER) === 0) continue;
      held += c.size;
      carried += Math.min(Math.max(m.i32[e + PKT_LENGTH], 0), c.size);
    }
  }
  return { held, carried };
}

/** Packets held by anyone now. */
export function countInUse(m: SegmentMemory): number {
  const base = m.layout.packetOffset / 4;
  let n = 0;
  for (let i = 0; i < m.layout.packetCount; i++) if (Atomics.load(m.i32, base + i * PKT_WORDS + PKT_OWNER) !== 0) n++;
  return n;
}

/** Every packet currently held. */
export function heldPackets(m: SegmentMemory): PacketInfo[] {
  const base = m.layout.packetOffset / 4;
  const i32 = m.i32;
  const out: PacketInfo[] = [];
  const now = Date.now() - m.header.createdAt;
  for (let i = 0; i < m.layout.packetCount; i++) {
    const e = base + i * PKT_WORDS;
    const owner = Atomics.load(i32, e + PKT_OWNER);
    if (owner === 0) continue;
    out.push({
      index: i,
      classSize: classOfPacket(m.layout, i)!.size,
      owner,
      generation: i32[e + PKT_GEN],
      length: i32[e + PKT_LENGTH],
      functionId: i32[e + PKT_FUNCTION],
      requestId: i32[e + PKT_REQUEST] >>> 0,
      // The i32 wraps after 24.8 days of segment life; the difference modulo 2^32 does not.
      ageMs: (now - i32[e + PKT_TIME]) >>> 0,
    });
  }
  return out;
}
