// What the pool hands out and reports: descriptors (index, generation, where the bytes are), the
// answer to an allocation that found no room, and the usage figures readers show.
export interface Descriptor {
  index: number;
  generation: number;
  offset: number;
  capacity: number;
}

export interface Exhausted {
  exhausted: true;
  /**
   * 'too-large': no class can hold the length; 'short': the domain's budget (or the limit asked
   * for) has not that many bytes free; 'exhausted': every class that could hold it has no free packet.
   */
  reason: 'too-large' | 'short' | 'exhausted';
  length: number;
}

export interface ClassUsage {
  size: number;
  count: number;
  inUse: number;
  free: number;
  highWater: number;
  /** Body bytes the held packets carry (their length words). */
  bytesInUse: number;
  /** Bytes of the held packets (inUse × size): what they take of the budget. */
  packetBytes: number;
  touched: number;
}

/** A domain's packet memory: its budget and what is held of it, and how often it ran short. */
export interface DomainMemory {
  /** Bytes of packets the domain may hold at once. */
  budget: number;
  /** Bytes of the packets held now (from the owner words, the truth). */
  held: number;
  /** budget − held, at least 0. */
  free: number;
  /** Allocations that waited for memory, and those refused for it (counted by gateways and containers). */
  waits: number;
  refusals: number;
}

export interface PacketInfo {
  index: number;
  classSize: number;
  owner: number;
  generation: number;
  length: number;
  functionId: number;
  requestId: number;
  ageMs: number;
}

export function isExhausted<T extends object>(r: T | Exhausted): r is Exhausted {
  return (r as Exhausted).exhausted === true;
}
