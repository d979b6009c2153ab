// Giving back the pages of free packets. Each class reserves packets for the domain's whole budget,
// and a memfd (like any tmpfs file) keeps a page once it is written, so a domain whose bodies change
// size over time (1 MiB packets for an hour, then 8 MiB ones) would come to hold several times its
// budget in RAM. What the memory check counts a domain segment for (memory-room.ts), and what a
// pod's memory limit is sized for, is its tables and its budget: the supervisor trims a segment
// that holds more back below that, largest packets first. A packet is claimed (its owner word, as
// alloc claims it; nothing charged) while its pages go, so nobody writes into it meanwhile, and is
// free again after. MADV_REMOVE punches a hole: a memfd sealed against shrinking and growing still
// allows that (only F_SEAL_WRITE would refuse it), and its size stays.
import { PKT_OWNER, PKT_WORDS } from './constants.js';
import type { SegmentMemory } from './memory.js';

/** Releases the pages of [offset, offset + length) of a view of the mapping (sys.releasePages). */
export type ReleasePages = (view: ArrayBuffer, offset: number, length: number) => void;

/** Pages are 4 KiB: a packet smaller than a page shares its pages with its neighbours and is never trimmed. */
const PAGE = 4096;

/**
 * Releases the resident pages of free packets, from the largest class down and from the end of
 * each arena, until `goal` bytes have gone or no free packet holds any. Returns the bytes released.
 * `owner` claims each packet while its pages go (the caller's pid).
 */
export function trimPackets(m: SegmentMemory, owner: number, goal: number, release: ReleasePages): number {
  const base = m.layout.packetOffset / 4;
  let released = 0;
  for (const c of [...m.layout.classes].reverse()) {
    if (c.size < PAGE) break;
    for (let i = c.count - 1; i >= 0 && released < goal; i--) {
      const owned = base + (c.firstPacket + i) * PKT_WORDS + PKT_OWNER;
      if (Atomics.load(m.i32, owned) !== 0) continue;
      const offset = c.arenaOffset + i * c.size;
      const resident = m.resident(offset, c.size);
      if (resident === 0 || Atomics.compareExchange(m.i32, owned, 0, owner) !== 0) continue;
      try {
        const chunk = Math.floor(offset / m.viewBytes);
        release(m.views[chunk], offset - chunk * m.viewBytes, c.size);
        released += resident;
      } finally {
        Atomics.store(m.i32, owned, 0);
      }
    }
  }
  return released;
}
