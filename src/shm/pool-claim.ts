// The steps of taking a packet that touch shared words: claiming an owner word through the class
// bitmap (a hint; the owner CAS is the truth), giving an uncharged claim back, counting it; and the
// creator's first words. Functions over the i32 words, so pool.ts keeps only the decisions.
import { PKT_GEN, PKT_OWNER, PKT_WORDS } from './constants.js';
import type { ClassLayout } from './layout.js';

/**
 * Claims a free packet of class `c` for `owner`, starting at bitmap word `cursor[c.index]` (each
 * process starts elsewhere, so concurrent allocators rarely collide) and leaving the cursor where
 * it found one. Returns the packet's index, or -1 when the class has none free.
 */
export function claimPacket(i32: Int32Array, base: number, c: ClassLayout, owner: number, cursor: number[]): number {
  const words = c.bitmapWords;
  const start = cursor[c.index];
  for (let n = 0; n < words; n++) {
    const w = start + n < words ? start + n : start + n - words;
    let bits = Atomics.load(i32, c.bitmapWord + w);
    while (bits !== -1) {
      const lowZero = ~bits & (bits + 1); // lowest clear bit
      const bit = 31 - Math.clz32(lowZero);
      const index = c.firstPacket + w * 32 + bit;
      if (Atomics.compareExchange(i32, base + index * PKT_WORDS + PKT_OWNER, 0, owner) === 0) {
        Atomics.or(i32, c.bitmapWord + w, lowZero);
        cursor[c.index] = w;
        return index;
      }
      bits |= lowZero;
    }
  }
  return -1;
}

/** Gives back a packet claimed a moment ago and not charged (nobody has its descriptor): bitmap hint first, owner word last, as every release. */
export function unclaimPacket(i32: Int32Array, base: number, c: ClassLayout, index: number): void {
  const rel = index - c.firstPacket;
  Atomics.and(i32, c.bitmapWord + (rel >>> 5), ~(1 << (rel & 31)));
  Atomics.store(i32, base + index * PKT_WORDS + PKT_OWNER, 0);
}

/** Counts one more packet of class `c` in use and raises its high-water mark to match. */
export function countClaim(i32: Int32Array, c: ClassLayout): void {
  const inUse = Atomics.add(i32, c.counterWord, 1) + 1;
  let hw = Atomics.load(i32, c.counterWord + 1);
  while (inUse > hw) {
    const seen = Atomics.compareExchange(i32, c.counterWord + 1, hw, inUse);
    if (seen === hw) break;
    hw = seen;
  }
}

/**
 * The creator's, on a zero-filled segment: the unusable tail bits of each bitmap, and generation
 * 1 everywhere, so an all-zero descriptor (index 0, generation 0) never names a live packet.
 */
export function initPackets(i32: Int32Array, base: number, classes: ClassLayout[]): void {
  for (const c of classes) {
    for (let i = 0; i < c.count; i++) i32[base + (c.firstPacket + i) * PKT_WORDS + PKT_GEN] = 1;
    const tail = c.count % 32;
    if (tail !== 0) i32[c.bitmapWord + c.bitmapWords - 1] = ~((1 << tail) - 1);
  }
}
