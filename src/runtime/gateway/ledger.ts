// What the gateway holds for each request in flight, and how each one ends: answered (to its
// client or its flow), its packets freed, counted once in its function's stats. The Gateway
// (gateway.ts) builds on this with routing and what containers send.
import type { Descriptor, PacketPool } from '../../shm/pool.js';
import { H_TOTAL, type FunctionStats } from '../../shm/stats.js';
import { FN_2XX, FN_4XX, FN_5XX, FN_BYTES_IN, FN_INFLIGHT, FN_REQUESTS } from '../../shm/constants.js';
import { PacketSet, type FreeGuard } from '../envelope.js';
import { sendError } from './errors.js';
import type { Exchange } from './exchange.js';
import type { Intake } from './intake.js';
import { IdTable } from '../id-table.js';

export abstract class Ledger {
  protected readonly pending = new IdTable<Exchange>();
  /** Per domain pool: what a container's frame may make this gateway free (see FreeGuard). */
  private readonly guards = new Map<PacketPool, FreeGuard>();
  protected abstract readonly intake: Intake;
  protected abstract readonly flows: { active: number };
  abstract cancel(p: Exchange): void;
  protected draining = false;
  private idle: (() => void) | undefined;

  constructor(readonly stats: FunctionStats) {}

  get inFlight(): number {
    return this.pending.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  release(pool: PacketPool, d: Descriptor): void {
    this.intake.release(pool, d);
  }

  takeId(): number {
    return this.intake.takeId();
  }

  guard(pool: PacketPool): FreeGuard {
    let g = this.guards.get(pool);
    if (!g) this.guards.set(pool, (g = { owner: process.pid, inFlight: new PacketSet(pool.packetCount) }));
    return g;
  }

  /** Tells whoever waits for `p` that it failed: its HTTP client, or its sink (a flow, an invoke). */
  protected answer(p: Exchange, status: number, message: string, headers?: Record<string, string>): void {
    if (p.answered) return;
    p.answered = true;
    if (p.sink) p.sink.failed(p, status, message);
    else sendError(p.res!, status, message, { requestId: p.id }, { ...headers, 'x-request-id': String(p.id) });
  }

  /** Answers with an error and releases the request (its container, if any, is done with it). */
  fail(p: Exchange, status: number, message: string, headers?: Record<string, string>, counter?: number): void {
    if (counter !== undefined) this.stats.add(p.fn, counter);
    this.finish(p, status);
    this.answer(p, status, message, headers);
  }

  protected count(p: Exchange, status: number): void {
    if (p.counted) return;
    p.counted = true;
    const s = this.stats;
    s.add(p.fn, FN_REQUESTS);
    s.add(p.fn, status < 400 ? FN_2XX : status < 500 ? FN_4XX : FN_5XX);
    s.add(p.fn, FN_BYTES_IN, p.bytesIn);
    s.record(p.fn, H_TOTAL, Math.round((performance.now() - p.t0) * 1000));
  }

  /** Frees the request's packets and forgets it, counting it unless it was counted already. */
  protected finish(p: Exchange, status: number): void {
    if (!this.pending.delete(p.id)) return;
    const g = this.guard(p.pool);
    // A borrowed request packet is its flow's, which keeps it guarded while it holds it; one lent
    // to ctx.invoke() calls stays guarded (and allocated) until the last of them is done.
    if (!p.borrowed && !p.lent) g.inFlight.delete(p.desc.index);
    if (p.metaDesc) g.inFlight.delete(p.metaDesc.index);
    if (!p.kept) {
      if (p.lent) p.lentDone = true;
      else if (!p.borrowed) this.intake.release(p.pool, p.desc);
      if (p.metaDesc) this.intake.release(p.pool, p.metaDesc);
    }
    // Its handler's calls still running have nobody to answer to.
    if (p.calls) for (const c of p.calls) this.cancel(c);
    this.stats.add(p.fn, FN_INFLIGHT, -1);
    this.count(p, status);
    p.sink?.released(p);
    this.checkIdle();
  }

  /**
   * Reply packets a container handed over just before dying carry the request ids of `lost`: they
   * are freed too (the requests' own packets are freed as each one fails).
   */
  protected freeHandedOver(pool: PacketPool, lost: Exchange[]): void {
    const ids = new Set(lost.map((p) => p.id));
    const mine = new Set(lost.flatMap((p) => [p.desc.index, p.metaDesc?.index ?? -1]));
    for (const h of pool.held()) {
      if (h.owner !== process.pid || !ids.has(h.requestId) || mine.has(h.index)) continue;
      try {
        pool.free(pool.describe(h.index, h.generation), process.pid);
      } catch {
        // freed concurrently
      }
    }
  }

  checkIdle(): void {
    if (this.draining && this.pending.size === 0 && this.intake.receiving === 0 && this.flows.active === 0) this.idle?.();
  }

  /** Stops taking requests and resolves when every in-flight one has been answered. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.pending.size === 0 && this.intake.receiving === 0 && this.flows.active === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }
}
