// Allocations that found their domain short of packet memory, waiting for it in arrival order, one
// queue per domain. A queue is retried whenever this process frees a packet of that domain
// (PacketPool.afterFree) and on a short timer while anyone waits (other processes free packets
// too, and tell nobody); each waiter gives up at its own deadline. The gateway and the containers
// each have one. Nothing here allocates on the request path while nobody waits.
import type { PacketPool } from '../shm/pool.js';

/** How often the queues are retried while anyone waits, for the frees of other processes. */
export const POLL_MS = 5;

export interface Waiter {
  /** The function it waits for (the gateway counts it as queued there); -1 for none. */
  readonly fn: number;
  /** performance.now() past which it gives up. */
  readonly deadline: number;
  /** Tries to allocate once more; true when it has its packets (then granted() follows). */
  attempt(): boolean;
  /** It has its packets and is out of the queue: it goes on. */
  granted(): void;
  /** Its deadline passed (it is out of the queue). */
  expired(): void;
}

export class MemoryWaits {
  private readonly queues = new Map<PacketPool, Waiter[]>();
  private readonly perFn = new Map<number, number>();
  private waiters = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly due = new Set<PacketPool>();
  private soon = false;
  /** Inside retry(): a waiter that frees what it got part of (one of its two packets) must not schedule another retry at once. */
  private retrying = false;

  /** `changed(fn)`: how many wait for function `fn` changed (the gateway updates its queued gauge). */
  constructor(private readonly changed: (fn: number) => void = () => undefined, private readonly pollMs = POLL_MS) {}

  /** Allocations waiting now. */
  get size(): number {
    return this.waiters;
  }

  /** Whether anyone waits for `pool`: a new allocation there queues behind them rather than take what they wait for. */
  busy(pool: PacketPool): boolean {
    return this.waiters > 0 && (this.queues.get(pool)?.length ?? 0) > 0;
  }

  /** Allocations waiting for function `fn`. */
  of(fn: number): number {
    return this.waiters === 0 ? 0 : (this.perFn.get(fn) ?? 0);
  }

  /** Queues `w` for `pool`, behind everyone already waiting there. */
  add(pool: PacketPool, w: Waiter): void {
    let q = this.queues.get(pool);
    if (!q) this.queues.set(pool, (q = []));
    q.push(w);
    this.counted(w.fn, 1);
    pool.afterFree = () => this.freed(pool);
    this.timer ??= setInterval(() => this.tick(), this.pollMs);
  }

  /** Takes `w` out of the queue (its client left); false when it is not waiting (any more). */
  cancel(pool: PacketPool, w: Waiter): boolean {
    const q = this.queues.get(pool);
    const i = q ? q.indexOf(w) : -1;
    if (i < 0) return false;
    q!.splice(i, 1);
    this.left(pool, w);
    return true;
  }

  /** Everyone waiting for `pool` gives up now (its segment went away): expired() for each. */
  dropPool(pool: PacketPool): void {
    for (const w of [...(this.queues.get(pool) ?? [])]) if (this.cancel(pool, w)) w.expired();
  }

  private counted(fn: number, d: number): void {
    this.waiters += d;
    if (fn >= 0) {
      this.perFn.set(fn, (this.perFn.get(fn) ?? 0) + d);
      this.changed(fn);
    }
  }

  private left(pool: PacketPool, w: Waiter): void {
    this.counted(w.fn, -1);
    if (this.queues.get(pool)?.length === 0) {
      this.queues.delete(pool);
      pool.afterFree = undefined;
    }
    if (this.waiters === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** This process freed a packet of `pool`: its queue is retried once the current task is done (never inside free()). */
  private freed(pool: PacketPool): void {
    if (this.retrying) return;
    this.due.add(pool);
    if (this.soon) return;
    this.soon = true;
    setImmediate(() => {
      this.soon = false;
      const pools = [...this.due];
      this.due.clear();
      for (const p of pools) this.retry(p);
    });
  }

  /** Grants the queue from its head for as long as the head gets its packets: first come, first served. */
  private retry(pool: PacketPool): void {
    for (;;) {
      const q = this.queues.get(pool);
      const w = q?.[0];
      if (!w) return;
      this.retrying = true;
      let got: boolean;
      try {
        got = w.attempt();
      } finally {
        this.retrying = false;
      }
      if (!got) return;
      q!.shift();
      this.left(pool, w);
      w.granted();
    }
  }

  private tick(): void {
    const now = performance.now();
    for (const [pool, q] of [...this.queues]) {
      for (const w of q.filter((x) => x.deadline <= now)) if (this.cancel(pool, w)) w.expired();
      this.retry(pool);
    }
  }
}
