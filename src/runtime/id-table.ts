// Requests in flight by request id (the gateway's, a container's): an open-addressing table whose
// arrays are made once (and again only when it doubles). A Map would do the same job, but one whose keys are
// always new rehashes into a fresh table every few dozen requests, and a table it has left behind
// in the old generation still points at the requests it held: each young-generation collection
// then keeps those requests (and their buffers) alive and copies them out of the young
// generation. The gateway's collections were mostly that copying.

const EMPTY = 0xffffffff; // never a request id (ids are at most 0xfffffffe)

export class IdTable<T> {
  private keys: Uint32Array;
  private values: (T | undefined)[];
  private mask: number;
  private shift: number;
  private count = 0;

  constructor(capacity = 1024) {
    const bits = Math.max(4, Math.ceil(Math.log2(capacity)));
    this.keys = new Uint32Array(1 << bits).fill(EMPTY);
    this.values = new Array<T | undefined>(1 << bits).fill(undefined);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
  }

  get size(): number {
    return this.count;
  }

  private home(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> this.shift;
  }

  private find(id: number): number {
    for (let i = this.home(id); ; i = (i + 1) & this.mask) {
      const k = this.keys[i];
      if (k === id) return i;
      if (k === EMPTY) return -1;
    }
  }

  has(id: number): boolean {
    return this.find(id) >= 0;
  }

  get(id: number): T | undefined {
    const i = this.find(id);
    return i < 0 ? undefined : this.values[i];
  }

  set(id: number, value: T): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    let i = this.home(id);
    while (this.keys[i] !== EMPTY && this.keys[i] !== id) i = (i + 1) & this.mask;
    if (this.keys[i] === EMPTY) this.count++;
    this.keys[i] = id;
    this.values[i] = value;
  }

  /** Removes `id`; false when it was not there. Later entries of its run move back (no tombstones). */
  delete(id: number): boolean {
    let i = this.find(id);
    if (i < 0) return false;
    this.count--;
    for (let j = (i + 1) & this.mask; this.keys[j] !== EMPTY; j = (j + 1) & this.mask) {
      const h = this.home(this.keys[j]);
      // Entry j may fill the hole at i when its home is not in (i, j] (cyclically).
      if (i <= j ? h <= i || h > j : h <= i && h > j) {
        this.keys[i] = this.keys[j];
        this.values[i] = this.values[j];
        i = j;
      }
    }
    this.keys[i] = EMPTY;
    this.values[i] = undefined;
    return true;
  }

  /** A snapshot: the caller may delete while it goes through it. */
  snapshot(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] !== EMPTY) out.push(this.values[i] as T);
    return out;
  }

  private grow(): void {
    const keys = this.keys;
    const values = this.values;
    const bits = 32 - this.shift + 1;
    this.keys = new Uint32Array(1 << bits).fill(EMPTY);
    this.values = new Array<T | undefined>(1 << bits).fill(undefined);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
    this.count = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) this.set(keys[i], values[i] as T);
  }
}
