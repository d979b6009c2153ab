// The proxy's routing: which container replica gets a request. Least outstanding requests first,
// round robin among equals; a bounded FIFO queue per function when every replica is at its
// concurrency; only replicas of a function's current deployment get new work.
import type { Route } from '../protocol.js';

export interface Replica<L> {
  link: L;
  pid: number;
  functionId: number;
  deployment: number;
  replica: number;
  /** The container's security domain: its requests' packets are in that domain's segment. */
  domain: number;
  outstanding: number;
  draining: boolean;
  /** Reported as stuck (blocked event loop) once; gets no new work. */
  stuck?: boolean;
}

interface FunctionState<P, L> {
  route: Route;
  queue: P[];
  rr: number;
  replicas: Replica<L>[];
}

export type DispatchResult<L> =
  | { kind: 'sent'; replica: Replica<L> }
  | { kind: 'queued' }
  | { kind: 'full' }
  | { kind: 'unknown' }
  | { kind: 'unavailable'; reason: string };

export class Router<P, L> {
  private readonly functions = new Map<number, FunctionState<P, L>>();
  /** Function name → id, for /function/<name>. */
  private readonly names = new Map<string, number>();
  private readonly replicas = new Set<Replica<L>>();
  /** Requests one replica works on at once (its container's concurrency). */
  private readonly concurrency: (functionId: number) => number;
  private readonly queueLimit: number;

  constructor(concurrency: (functionId: number) => number, queueLimit: number) {
    this.concurrency = concurrency;
    this.queueLimit = queueLimit;
  }

  /** Replaces the routing table. Returns the requests queued for functions that no longer exist. */
  setRoutes(routes: Route[]): P[] {
    const orphans: P[] = [];
    // Requests queued for a function that just became unavailable would only wait for their timeout.
    for (const r of routes) if (r.unavailable) orphans.push(...(this.functions.get(r.id)?.queue.splice(0) ?? []));
    const next = new Map<number, FunctionState<P, L>>();
    for (const route of routes) {
      const prev = this.functions.get(route.id);
      next.set(route.id, { route, queue: prev?.queue ?? [], rr: prev?.rr ?? 0, replicas: [] });
    }
    for (const [id, st] of this.functions) if (!next.has(id)) orphans.push(...st.queue);
    this.functions.clear();
    this.names.clear();
    for (const [id, st] of next) {
      this.functions.set(id, st);
      this.names.set(st.route.name, id);
    }
    for (const r of this.replicas) this.place(r);
    return orphans;
  }

  private place(r: Replica<L>): void {
    const st = this.functions.get(r.functionId);
    if (st && st.route.deployment === r.deployment && !r.draining && !st.replicas.includes(r)) st.replicas.push(r);
  }

  route(id: number): Route | undefined {
    return this.functions.get(id)?.route;
  }

  /** The id of the function with this name (names are unique: the config and deploy see to it). */
  idOf(name: string): number | undefined {
    return this.names.get(name);
  }

  routes(): Route[] {
    return [...this.functions.values()].map((s) => s.route);
  }

  addReplica(r: Replica<L>): void {
    this.replicas.add(r);
    this.place(r);
  }

  /** Stops new work to `r`; it stays known until removed so its replies are still matched. */
  drain(r: Replica<L>): void {
    r.draining = true;
    this.unplace(r);
  }

  removeReplica(r: Replica<L>): void {
    this.replicas.delete(r);
    this.unplace(r);
  }

  private unplace(r: Replica<L>): void {
    const st = this.functions.get(r.functionId);
    if (st) st.replicas = st.replicas.filter((x) => x !== r);
  }

  /** Sends to the least busy replica with a free slot, else queues (bounded), else 'full'. */
  dispatch(functionId: number, p: P): DispatchResult<L> {
    const st = this.functions.get(functionId);
    if (!st) return { kind: 'unknown' };
    if (st.route.unavailable && st.replicas.length === 0) return { kind: 'unavailable', reason: st.route.unavailable };
    const replica = st.queue.length === 0 ? this.pick(st) : undefined;
    if (replica) {
      replica.outstanding++;
      return { kind: 'sent', replica };
    }
    if (st.queue.length >= this.queueLimit) return { kind: 'full' };
    st.queue.push(p);
    return { kind: 'queued' };
  }

  private pick(st: FunctionState<P, L>): Replica<L> | undefined {
    const n = st.replicas.length;
    if (n === 0) return undefined;
    const limit = st.route.concurrency ?? this.concurrency(st.route.id);
    let best: Replica<L> | undefined;
    for (let k = 0; k < n; k++) {
      const r = st.replicas[(st.rr + k) % n];
      if (r.outstanding < limit && (!best || r.outstanding < best.outstanding)) best = r;
    }
    st.rr = (st.rr + 1) % n;
    return best;
  }

  /**
   * A request on `functionId` finished (or a replica arrived): hands queued requests to replicas
   * with free slots. Calls `send` for each one dispatched.
   */
  pump(functionId: number, send: (p: P, r: Replica<L>) => void): void {
    const st = this.functions.get(functionId);
    if (!st) return;
    while (st.queue.length > 0) {
      const r = this.pick(st);
      if (!r) return;
      r.outstanding++;
      send(st.queue.shift() as P, r);
    }
  }

  /** Takes up to `n` requests from the head of `functionId`'s queue, for a replica not routed to yet. */
  takeQueued(functionId: number, n: number): P[] {
    return this.functions.get(functionId)?.queue.splice(0, Math.max(0, n)) ?? [];
  }

  /** Removes `p` from its function's queue (timed out or client gone). */
  unqueue(functionId: number, p: P): boolean {
    const st = this.functions.get(functionId);
    if (!st) return false;
    const i = st.queue.indexOf(p);
    if (i < 0) return false;
    st.queue.splice(i, 1);
    return true;
  }

  queued(functionId: number): number {
    return this.functions.get(functionId)?.queue.length ?? 0;
  }

  ready(functionId: number): Replica<L>[] {
    return this.functions.get(functionId)?.replicas ?? [];
  }

  all(): Replica<L>[] {
    return [...this.replicas];
  }
}
