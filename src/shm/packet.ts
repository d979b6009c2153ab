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
  /** 'too-large': no class can hold the length; 'exhausted': every class that could is full. */
  reason: 'too-large' | 'exhausted';
  length: number;
}

export interface ClassUsage {
  size: number;
  count: number;
  inUse: number;
  free: number;
  highWater: number;
  bytesInUse: number;
  touched: number;
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

export function isExhausted(r: Descriptor | Exhausted): r is Exhausted {
  return (r as Exhausted).exhausted === true;
}
