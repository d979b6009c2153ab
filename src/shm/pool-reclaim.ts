// Freeing packets without their owner's cooperation: the release step every free ends with, and
// reclaiming what a dead process held (the supervisor does it for every process that exits); and
// the checks a descriptor from elsewhere passes before anything acts on it.
import { BUDGET_UNIT, PKT_GEN, PKT_OWNER, PKT_WORDS, POOL_CHARGED } from './constants.js';
import { ShmError } from './errors.js';
import { classOfPacket } from './layout.js';
import type { SegmentMemory } from './memory.js';

/**
 * Owner word last: until it is 0 nobody else can claim the packet. The in-use counter and the
 * budget's charge go down before it (and up only after a claim), so the counter never exceeds the
 * packets really held and the high-water mark never exceeds the class's count; the bitmap hint is
 * cleared before the owner word too: a stale hint costs a failed CAS, never a double allocation.
 */
export function releasePacket(m: SegmentMemory, index: number): void {
  const c = classOfPacket(m.layout, index)!;
  const rel = index - c.firstPacket;
  Atomics.sub(m.i32, c.counterWord, 1);
  Atomics.sub(m.i32, m.layout.poolWord + POOL_CHARGED, c.size / BUDGET_UNIT);
  Atomics.and(m.i32, c.bitmapWord + (rel >>> 5), ~(1 << (rel & 31)));
  Atomics.store(m.i32, m.layout.packetOffset / 4 + index * PKT_WORDS + PKT_OWNER, 0);
}

/** The i32 index of packet `index`'s table entry, once the index is in range and the generation is the descriptor's (ERANGE, ESTALE otherwise). */
export function checkedEntry(m: SegmentMemory, index: number, generation: number, what: string): number {
  if (!Number.isInteger(index) || index < 0 || index >= m.layout.packetCount) {
    throw new ShmError(`${what}: packet index ${index} is out of range (0..${m.layout.packetCount - 1})`, 'ERANGE', m.name);
  }
  const e = m.layout.packetOffset / 4 + index * PKT_WORDS;
  const gen = Atomics.load(m.i32, e + PKT_GEN);
  if (gen !== (generation | 0)) {
    throw new ShmError(`${what}: packet ${index} is generation ${gen}, the descriptor says ${generation} (stale descriptor: the packet was freed and reused)`, 'ESTALE', m.name);
  }
  return e;
}

/** Why a free lost its generation CAS (`seen` is what the word held), as the error to throw. */
export function freeRefusal(m: SegmentMemory, index: number, gen: number, seen: number): ShmError {
  const owner = Atomics.load(m.i32, m.layout.packetOffset / 4 + index * PKT_WORDS + PKT_OWNER);
  if (seen === ((gen + 1) | 0) && owner === 0) {
    return new ShmError(`free: packet ${index} (generation ${gen}) is already free: double free`, 'EDOUBLEFREE', m.name);
  }
  if (seen === gen) return new ShmError(`free: packet ${index} (generation ${gen}) is not allocated`, 'ESTALE', m.name);
  return new ShmError(`free: packet ${index} is generation ${seen}, the descriptor says ${gen} (stale descriptor: the packet was freed and reused)`, 'ESTALE', m.name);
}

/** Frees every packet `pid` holds (it died). Returns how many. */
export function reclaimOwner(m: SegmentMemory, pid: number): number {
  if (!Number.isInteger(pid) || pid <= 0) return 0;
  const base = m.layout.packetOffset / 4;
  let n = 0;
  for (let i = 0; i < m.layout.packetCount; i++) {
    const e = base + i * PKT_WORDS;
    if (Atomics.load(m.i32, e + PKT_OWNER) !== pid) continue;
    // The dead process cannot race us; its descriptors (and copies sent to others) go stale.
    Atomics.add(m.i32, e + PKT_GEN, 1);
    releasePacket(m, i);
    n++;
  }
  // The in-use counters only feed the high-water mark (usage() counts owner words for the exact
  // number). A process killed between its owner CAS and its counter update (or its budget charge)
  // leaves that counter one packet low after this; it is not rewritten from a scan, because a scan
  // racing live allocators would store a value they then increment past the real one (a
  // high-water mark above the count, a budget charged for packets nobody holds). Low by one per
  // such crash is the safe direction: the domain may hold one packet more than its budget.
  return n;
}

/** Frees the packets of every owner for which `alive(pid)` is false. Returns pid → count. */
export function reclaimDeadOwners(m: SegmentMemory, alive: (pid: number) => boolean): Map<number, number> {
  const base = m.layout.packetOffset / 4;
  const owners = new Set<number>();
  for (let i = 0; i < m.layout.packetCount; i++) {
    const o = Atomics.load(m.i32, base + i * PKT_WORDS + PKT_OWNER);
    if (o !== 0) owners.add(o);
  }
  const out = new Map<number, number>();
  for (const o of owners) if (!alive(o)) out.set(o, reclaimOwner(m, o));
  return out;
}
