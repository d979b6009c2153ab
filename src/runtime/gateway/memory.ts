// Packet memory as the gateway meets it: new work of a domain (a request's body, a call's input
// copied into the callee's domain, a flow step's) may take the domain's budget less the reserve
// kept for replies; when the domain is short for a moment it waits, first come first served,
// counted as queued, up to segment.wait; past that it is answered 503 naming the domain, what it
// asked, what is free and the field to raise, and a line is logged (at most one per domain every
// few seconds). A body that could never fit is answered at once.
import { isExhausted, type Descriptor, type PacketPool } from '../../shm/pool.js';
import type { FunctionStats } from '../../shm/stats.js';
import { FN_MEM_REFUSED, FN_MEM_WAITS } from '../../shm/constants.js';
import { requestLimit } from '../../shm/layout.js';
import { fmtBytes } from '../../common/units.js';
import { MemoryWaits, type Waiter } from '../memory-wait.js';
import { allocFor } from '../envelope.js';
import { log } from '../child.js';

/** At most one log line per domain this often about its refusals (with how many since the last). */
const LOG_EVERY_MS = 5000;

export interface MemoryHost {
  readonly stats: FunctionStats;
  /** The domain a pool is the segment of, for messages. */
  domainOf(pool: PacketPool): string;
  /** How many wait for function `fn` changed: its queued gauge follows. */
  queuedChanged(fn: number): void;
  readonly cfg: { segment: { size: number; waitMs: number } };
}

/** A short shortage's wait: what it asks for, and how it goes on. */
export interface Ask {
  fn: number;
  pool: PacketPool;
  /** Bytes of budget it asks for (for the message). */
  bytes: number;
  /** Tries to allocate; true when it has its packets. */
  attempt(): boolean;
  granted(): void;
  /** Refused for memory after waiting: `message` says why (the 503's text). */
  refused(message: string): void;
  /** performance.now() it gives up at, if before segment.wait has passed. */
  deadline?: number;
  /** What it may take of the budget (default: what requests may, GatewayMemory.limit). */
  limit?: number;
}

export class GatewayMemory {
  readonly waits: MemoryWaits;
  private readonly logged = new Map<string, { at: number; refused: number }>();
  /** Each pool's request limit, worked out once (every request asks). */
  private readonly limits = new Map<PacketPool, number>();

  constructor(private readonly host: MemoryHost) {
    this.waits = new MemoryWaits((fn) => host.queuedChanged(fn));
  }

  /** The domain whose segment `pool` is, for messages. */
  domainName(pool: PacketPool): string {
    return this.host.domainOf(pool);
  }

  /** What new work may take of `pool`'s budget. */
  limit(pool: PacketPool): number {
    let l = this.limits.get(pool);
    if (l === undefined) this.limits.set(pool, (l = requestLimit({ budget: pool.budget, classes: pool.classes })));
    return l;
  }

  /**
   * Why `bytes` of new work can never be had in `pool`'s domain (more than it may ever take), or
   * undefined. Counted as a refusal.
   */
  neverFits(pool: PacketPool, fn: number, what: string, bytes: number): string | undefined {
    const limit = this.limit(pool);
    if (bytes <= limit) return undefined;
    const domain = this.host.domainOf(pool);
    const message = `${what} needs ${fmtBytes(bytes)} of domain ${domain}'s packet memory, more than a request may ever take there (${fmtBytes(limit)}: its ${fmtBytes(pool.budget)} budget less ${fmtBytes(pool.budget - limit)} kept for replies): raise segment.size (${fmtBytes(this.host.cfg.segment.size)}, split over the domains)`;
    this.count(pool, fn, FN_MEM_REFUSED);
    this.note(domain, message);
    return message;
  }

  /**
   * Packets of `sizes` bytes in `pool` for function `fn`, all or none: at once when its domain has
   * the room, else once it has (waiting as wait() does). `then` gets them; `fail` hears a refusal
   * (413: it can never fit; 503: it waited segment.wait, or until `deadline`). `all`: it may take
   * the whole budget (it answers work already admitted, like a reply), not only what requests may.
   */
  obtain(pool: PacketPool, fn: number, sizes: number[], what: string, then: (descs: Descriptor[]) => void, fail: (status: number, message: string) => void, o: { deadline?: number; all?: boolean } = {}): void {
    const limit = o.all ? pool.budget : this.limit(pool);
    const charge = sizes.reduce((a, n) => a + classSize(pool, n), 0);
    if (!o.all) {
      const never = this.neverFits(pool, fn, what, charge);
      if (never !== undefined) return fail(413, never);
    }
    let got: Descriptor[] | undefined;
    const attempt = () => (got = allocAll(pool, sizes, limit)) !== undefined;
    if (!this.waits.busy(pool) && attempt()) return then(got!);
    this.wait({ fn, pool, bytes: charge, attempt, granted: () => then(got!), refused: (m) => fail(503, m), deadline: o.deadline, limit });
  }

  /** Queues `a` until its packets can be had, segment.wait at most. Returns its waiter (to cancel if the client leaves). */
  wait(a: Ask): Waiter {
    const t0 = performance.now();
    const waitMs = this.host.cfg.segment.waitMs;
    this.count(a.pool, a.fn, FN_MEM_WAITS);
    const w: Waiter = {
      fn: a.fn,
      deadline: Math.min(t0 + waitMs, a.deadline ?? Infinity),
      attempt: () => a.attempt(),
      granted: () => a.granted(),
      expired: () => {
        const domain = this.host.domainOf(a.pool);
        const limit = a.limit ?? this.limit(a.pool);
        const free = Math.max(0, limit - a.pool.charged());
        const of = limit === a.pool.budget ? `its ${fmtBytes(limit)} budget` : `the ${fmtBytes(limit)} requests may hold (its ${fmtBytes(a.pool.budget)} budget less ${fmtBytes(a.pool.budget - limit)} kept for replies)`;
        const message = `domain ${domain} is short of packet memory: ${fmtBytes(a.bytes)} asked, ${fmtBytes(free)} free of ${of} after waiting ${fmtMs(performance.now() - t0)} (segment.wait ${fmtMs(waitMs)}): retry shortly, or raise segment.size (${fmtBytes(this.host.cfg.segment.size)}, split over the domains)`;
        this.count(a.pool, a.fn, FN_MEM_REFUSED);
        this.note(domain, message);
        a.refused(message);
      },
    };
    this.waits.add(a.pool, w);
    return w;
  }

  private count(pool: PacketPool, fn: number, counter: number): void {
    this.host.stats.add(fn, counter);
    pool.count(counter === FN_MEM_WAITS ? 'wait' : 'refusal');
  }

  /** Logs a refusal: the first of a domain at once, then at most one line every LOG_EVERY_MS with how many there were. */
  private note(domain: string, message: string): void {
    const now = performance.now();
    const l = this.logged.get(domain) ?? { at: -Infinity, refused: 0 };
    l.refused++;
    if (now - l.at >= LOG_EVERY_MS) {
      log('warn', `${message} (${l.refused} refused for memory in domain ${domain} since the last line like this)`, { domain });
      l.at = now;
      l.refused = 0;
    }
    this.logged.set(domain, l);
  }
}

/** The packet size a body of `n` bytes is charged (the largest class when none holds it: never fits anyway). */
function classSize(pool: PacketPool, n: number): number {
  const c = pool.classFor(n);
  return c < 0 ? Infinity : pool.classes[c].size;
}

/** One packet per size, or none (what was taken goes back). */
function allocAll(pool: PacketPool, sizes: number[], limit: number): Descriptor[] | undefined {
  const out: Descriptor[] = [];
  for (const n of sizes) {
    const d = allocFor(pool, n, 0, limit);
    if (isExhausted(d)) {
      for (const x of out) pool.free(x);
      return undefined;
    }
    out.push(d);
  }
  return out;
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s` : `${Math.round(ms)} ms`;
}
