// The packet pool: lock-free allocation over the packet table, shared by every process.
//
// The truth about a packet is its owner word (0 = free), claimed with one 32-bit CAS, so a
// process killed at any instruction leaves either a free packet or one owned by a dead pid
// (which reclaim() frees); it can never leave a lock held. A per-class bitmap is only a hint for
// finding free packets fast (32 per word): alloc claims the owner word first and sets the bit
// after; free clears the bit first and the owner word after. A stale hint costs a failed CAS,
// never a double allocation. No tagged-pointer free list, hence no ABA problem and no need for
// a native 64-bit CAS: JS Atomics on an Int32Array do the whole job.
//
// The generation moves on when a packet is FREED (one CAS, which also makes exactly one of two
// racing frees win), not when it is allocated: a descriptor is therefore stale from the instant
// its packet is released, before anyone can claim it again. (Bumping it at alloc left a window
// between another process's claim and its bump in which a stale free could release the new
// owner's packet.) alloc reads the generation with a plain load after its owner CAS, which orders it.
//
// A domain has a budget: bytes of packets it may hold at once. Each class has packets enough for
// all of it (layout.ts), so the budget, not a class's count, is what runs out: alloc claims the
// owner word first, then charges the packet's size to one counter word (POOL_CHARGED); a charge
// past the limit is undone with the claim and reported as 'short'. Free and reclaim uncharge. A
// process killed between its claim and its charge leaves the counter one packet low after
// reclaim (the safe direction: the domain may briefly hold one packet more than its budget).
//
// In a domain segment the packet table is writable by that domain's containers, whose code is not
// trusted. Nothing read from the table decides where this process reads or writes: a packet's
// class (its size and arena) comes from the layout this process validated at attach, never from
// a table word; a word a container scribbled over can make its own domain's requests fail, and
// nothing else. The charged counter is such a word: a container that changes it can make its own
// domain short, or let it hold more than its budget (never more than its classes' packets).
import { ShmError, readOnlyError } from './errors.js';
import { BUDGET_UNIT, PKT_FUNCTION, PKT_GEN, PKT_LENGTH, PKT_META, PKT_OWNER, PKT_REQUEST, PKT_TIME, PKT_WORDS, POOL_CHARGED, POOL_REFUSED, POOL_WAITS } from './constants.js';
import { classOfPacket, type ClassLayout } from './layout.js';
import type { SegmentMemory } from './memory.js';
import { views } from './views.js';
import { classUsage, countInUse, domainMemory, heldPackets, occupancy } from './pool-scan.js';
import { claimPacket, countClaim, initPackets, unclaimPacket } from './pool-claim.js';
import { checkedEntry, freeRefusal, reclaimDeadOwners, reclaimOwner, releasePacket } from './pool-reclaim.js';
import { coarseNow } from './clock.js';
import type { ClassUsage, Descriptor, DomainMemory, Exhausted, PacketInfo } from './packet.js';

export { isExhausted, type ClassUsage, type Descriptor, type DomainMemory, type Exhausted, type PacketInfo } from './packet.js';

/** Owner 0 means free: a CAS from 0 to 0 would "succeed" and hand one packet to many. */
function badOwner(what: string, owner: number, segment: string): never {
  throw new ShmError(`${what}: owner ${owner} is not a process id (a positive 32-bit integer)`, 'EINVAL', segment);
}

export class PacketPool {
  readonly classes: ClassLayout[];
  readonly maxPacket: number;
  /** Bytes of packets the domain may hold at once (from the layout this process validated). */
  readonly budget: number;
  /** Called after each free() by this process (not reclaims): whoever waits for memory retries. */
  afterFree: (() => void) | undefined = undefined;
  private readonly seg: SegmentMemory;
  private readonly i32: Int32Array;
  private readonly base: number; // i32 index of packet 0
  private readonly cursor: number[];
  /** Each class's packet size, the budget and the charged counter's i32 index, in budget units. */
  private readonly units: number[];
  private readonly budgetUnits: number;
  private readonly chargedWord: number;
  private readonly viewBytes: number;
  private readonly createdAt: number;
  /** Mapped read-only: every mutating method throws EACCES (one well-predicted branch on the read-write path). */
  private readonly readOnly: boolean;
  /** Handler views (packetView) not detached yet: detached with the mapping, never left dangling. */
  private readonly live = new Set<ArrayBuffer>();

  /** How many packets the segment has (indices 0 .. packetCount - 1). */
  get packetCount(): number { return this.seg.layout.packetCount; }

  /** The segment's shm name (as `faasflow shm ls` lists it). */
  get segmentName(): string {
    return this.seg.name;
  }

  constructor(seg: SegmentMemory) {
    this.seg = seg;
    this.readOnly = !seg.writable;
    this.i32 = seg.i32;
    this.classes = seg.layout.classes;
    this.base = seg.layout.packetOffset / 4;
    this.maxPacket = this.classes.length ? this.classes[this.classes.length - 1].size : 0;
    this.budget = seg.layout.budget;
    this.budgetUnits = Math.floor(this.budget / BUDGET_UNIT);
    this.units = this.classes.map((c) => c.size / BUDGET_UNIT);
    this.chargedWord = seg.layout.poolWord + POOL_CHARGED;
    this.viewBytes = seg.viewBytes;
    this.createdAt = seg.header.createdAt;
    // Start each process at a different bitmap word so concurrent allocators rarely collide.
    this.cursor = this.classes.map((c) => (process.pid * 7919) % c.bitmapWords);
  }

  /** Creator only, on a zero-filled segment (see initPackets). */
  init(): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'init');
    initPackets(this.i32, this.base, this.classes);
  }

  /** The smallest class whose packets hold `length` bytes, or -1. */
  classFor(length: number): number {
    for (let i = 0; i < this.classes.length; i++) if (this.classes[i].size >= length) return i;
    return -1;
  }

  /**
   * Claims a packet of at least `length` bytes for `owner`. Falls back to larger classes when the
   * right one has no free packet. The domain's charged bytes may not pass `limit` (default: the
   * budget; the gateway admits new requests only up to budget − replyReserve). Never throws on a
   * full pool: returns an Exhausted result instead ('short': the budget, 'exhausted': no packet).
   */
  alloc(length: number, owner: number = process.pid, limit: number = this.budget): Descriptor | Exhausted {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'alloc');
    if ((owner | 0) !== owner || owner <= 0) badOwner('alloc', owner, this.seg.name);
    const first = this.classFor(length);
    if (first < 0 || !(length >= 0)) return { exhausted: true, reason: 'too-large', length };
    const i32 = this.i32;
    const limitUnits = limit === this.budget ? this.budgetUnits : Math.floor(limit / BUDGET_UNIT);
    for (let c = first; c < this.classes.length; c++) {
      const cl = this.classes[c];
      const index = claimPacket(i32, this.base, cl, owner, this.cursor);
      if (index < 0) continue;
      // Claimed, then charged: a charge past the limit gives the packet straight back (nobody has
      // its descriptor yet), and a larger class would only cost more.
      const units = this.units[c];
      if (Atomics.add(i32, this.chargedWord, units) + units > limitUnits) {
        Atomics.sub(i32, this.chargedWord, units);
        unclaimPacket(i32, this.base, cl, index);
        return { exhausted: true, reason: 'short', length };
      }
      const e = this.base + index * PKT_WORDS;
      // Plain loads and stores from here on: the packet is ours alone since the CAS in claim().
      const generation = i32[e + PKT_GEN];
      i32[e + PKT_LENGTH] = length;
      i32[e + PKT_FUNCTION] = 0;
      i32[e + PKT_REQUEST] = 0;
      i32[e + PKT_META] = 0;
      i32[e + PKT_TIME] = coarseNow() - this.createdAt;
      countClaim(i32, cl);
      return { index, generation, offset: cl.arenaOffset + (index - cl.firstPacket) * cl.size, capacity: cl.size };
    }
    return { exhausted: true, reason: 'exhausted', length };
  }

  private entry(index: number, generation: number, what: string): number {
    return checkedEntry(this.seg, index, generation, what);
  }

  /** Rebuilds a descriptor from an index and generation received on a socket (validated). */
  describe(index: number, generation: number): Descriptor {
    const e = this.entry(index, generation, 'describe');
    if (Atomics.load(this.i32, e + PKT_OWNER) === 0) throw new ShmError(`describe: packet ${index} is free`, 'ESTALE', this.seg.name);
    const c = classOfPacket(this.seg.layout, index)!;
    return { index, generation, offset: c.arenaOffset + (index - c.firstPacket) * c.size, capacity: c.size };
  }

  /**
   * A Uint8Array onto the packet's bytes in the segment: no copy. A length past the capacity would
   * silently reach into the next packet, and an offset past the segment would silently give an
   * empty array, so both are refused.
   */
  view(d: Descriptor, length: number = d.capacity): Uint8Array {
    const chunk = Math.floor(d.offset / this.viewBytes);
    const buf = this.seg.views[chunk];
    const at = d.offset - chunk * this.viewBytes;
    // `at + length` past the view: an offset beyond the segment's end that still falls in its last
    // (shorter) view, or a closed segment (detached views are 0 bytes long).
    if (buf === undefined || !(length >= 0 && length <= d.capacity && at + length <= buf.byteLength)) {
      const closed = this.seg.isClosed ? ' (the segment is closed)' : '';
      throw new ShmError(`view: ${length} bytes at offset ${d.offset} is outside packet ${d.index} (capacity ${d.capacity}) or the segment (${this.seg.layout.size} bytes)${closed}`, 'ERANGE', this.seg.name);
    }
    return new Uint8Array(buf, at, length);
  }

  /**
   * What a handler gets: an ArrayBuffer of exactly `length` bytes of the packet, so `.buffer`
   * reaches nothing else (no header, no other packet, no stale bytes past the length). The caller
   * hands it back to releaseView() before the packet goes to anyone else.
   */
  packetView(d: Descriptor, length: number): ArrayBuffer {
    const chunk = Math.floor(d.offset / this.viewBytes);
    const buf = this.seg.views[chunk];
    if (buf === undefined || !(length >= 0 && length <= d.capacity)) this.view(d, length); // throws the ERANGE with its message
    const ab = views.view(buf, d.offset - chunk * this.viewBytes, length);
    this.live.add(ab);
    return ab;
  }

  /** Detaches a packetView: every typed array over it (the handler's, a library's) becomes empty. */
  releaseView(ab: ArrayBuffer): void {
    views.detach(ab);
    this.live.delete(ab);
  }

  /** Detaches every handler view still out (the mapping is going away). */
  detachViews(): void {
    for (const ab of this.live) views.detach(ab);
    this.live.clear();
  }

  /** Labels a packet for inspection (which function and request it carries). */
  label(d: Descriptor, functionId: number, requestId: number, length?: number, metaLength?: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'label');
    const e = this.base + d.index * PKT_WORDS;
    this.i32[e + PKT_FUNCTION] = functionId;
    this.i32[e + PKT_REQUEST] = requestId;
    if (length !== undefined) this.i32[e + PKT_LENGTH] = length;
    if (metaLength !== undefined) this.i32[e + PKT_META] = metaLength;
  }

  owner(d: Descriptor): number {
    return Atomics.load(this.i32, this.base + d.index * PKT_WORDS + PKT_OWNER);
  }

  /** Hands a packet to another process: it becomes the one that must free it (or die holding it). */
  transfer(d: Descriptor, to: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'transfer');
    if ((to | 0) !== to || to <= 0) badOwner('transfer', to, this.seg.name);
    const e = this.entry(d.index, d.generation, 'transfer');
    const cur = Atomics.load(this.i32, e + PKT_OWNER);
    if (cur === 0) throw new ShmError(`transfer: packet ${d.index} is free`, 'EDOUBLEFREE', this.seg.name);
    if (Atomics.compareExchange(this.i32, e + PKT_OWNER, cur, to) !== cur) {
      throw new ShmError(`transfer: packet ${d.index} changed owner during the transfer`, 'ESTALE', this.seg.name);
    }
  }

  /**
   * Frees a packet. A stale generation or a second free is a typed error, never corruption. With
   * `owner`, only a packet that process holds is freed (EPERM otherwise): a descriptor that came
   * from a container may name a packet of someone else's request.
   */
  free(d: Descriptor, owner?: number): void {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'free');
    const index = d.index;
    if (!Number.isInteger(index) || index < 0 || index >= this.seg.layout.packetCount) this.entry(index, d.generation, 'free');
    const e = this.base + index * PKT_WORDS;
    if (owner !== undefined && Atomics.load(this.i32, e + PKT_OWNER) !== owner) {
      throw new ShmError(`free: packet ${index} is not held by pid ${owner}`, 'EPERM', this.seg.name);
    }
    const gen = d.generation | 0;
    // Winning this CAS makes us the only process releasing the packet; every other holder of the
    // descriptor (a second free, a late transfer) now fails the generation check.
    const seen = Atomics.compareExchange(this.i32, e + PKT_GEN, gen, (gen + 1) | 0);
    if (seen !== gen || Atomics.load(this.i32, e + PKT_OWNER) === 0) throw freeRefusal(this.seg, index, gen, seen);
    releasePacket(this.seg, index);
    if (this.afterFree !== undefined) this.afterFree();
  }

  /** Frees every packet `pid` holds (it died). Returns how many. */
  reclaim(pid: number): number {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'reclaim');
    return reclaimOwner(this.seg, pid);
  }

  /** Frees the packets of every owner for which `alive(pid)` is false. Returns pid → count. */
  reclaimDead(alive: (pid: number) => boolean): Map<number, number> {
    if (this.readOnly) throw readOnlyError(this.seg.name, 'reclaimDead');
    return reclaimDeadOwners(this.seg, alive);
  }

  /** Per class: exact in-use count (from the owner words), high-water mark, resident bytes. */
  usage(): ClassUsage[] {
    return classUsage(this.seg);
  }

  /** The domain's budget, what is held of it (from the owner words), and its waits and refusals. */
  memory(usage: ClassUsage[] = this.usage()): DomainMemory {
    return domainMemory(this.seg, usage);
  }

  /** Bytes charged to the budget now (the counter: a hint a container of the domain can change, never below 0 here). */
  charged(): number {
    return Math.max(0, Atomics.load(this.i32, this.chargedWord)) * BUDGET_UNIT;
  }

  /** Counts an allocation that found the domain short and waited ('wait'), or was refused for memory ('refusal'): `top` and /metrics show them per domain. */
  count(what: 'wait' | 'refusal'): void {
    if (!this.readOnly && this.classes.length) Atomics.add(this.i32, this.seg.layout.poolWord + (what === 'wait' ? POOL_WAITS : POOL_REFUSED), 1);
  }

  /** Bytes of the packets held now, and the body bytes they carry (no residency measured: cheap). */
  occupancy(): { held: number; carried: number } {
    return occupancy(this.seg);
  }

  /** Packets held by anyone now. */
  inUse(): number {
    return countInUse(this.seg);
  }

  /** Every packet currently held, for `shm inspect`. */
  held(): PacketInfo[] {
    return heldPackets(this.seg);
  }
}
