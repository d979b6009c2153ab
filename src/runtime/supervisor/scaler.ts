// Elastic functions (functions[].scale): reads what the gateways already count in the runtime
// segment (requests in flight, queued ones included, per function) every SAMPLE_MS, lets the pure
// policy (scale-policy.ts) decide, and starts or drains replicas to match. A scale-down drains like
// a redeploy (SIGTERM: the replica tells each gateway, which stops routing to it and closes its
// link once it has every reply), so it fails no request. A function at zero wakes at once: the
// gateway that queues its first request (counted in flight) sends a `demand` message (wake), and
// the decision reads the same counters as a sample does, so the message alone starts nothing; the
// sample is the fallback if it is lost. A replica comes from the domain's warm spares when one fits
// (spares.ts), else starts afresh.
import { FunctionStats, type Segment } from '../../shm/index.js';
import { FN_INFLIGHT } from '../../shm/constants.js';
import { logFileFor } from '../../common/paths.js';
import type { Child } from './child.js';
import type { FnEntry } from './deployments.js';
import type { Parts } from './parts.js';
import { decideScale, initialScale, type ScaleState } from './scale-policy.js';

/** How often the load of every elastic function is sampled. */
export const SAMPLE_MS = 100;
/**
 * Demand messages for one function are acted on at most once per this long: a gateway sends one
 * per 50 ms per function at most, but several gateways, or one gone wrong, could send more. What
 * one starts is bounded anyway: only a function at zero wakes, and never past `max` (up()).
 */
export const WAKE_MIN_MS = 2;

/** Most requests in flight a function can have (each gateway queues at most proxy.queueLimit): a bound on a bad word. */
const LOAD_CAP = 1e7;

export class Scaler {
  private readonly state = new Map<number, ScaleState>();
  /** When a demand message last made each function's count be decided (wake). */
  private readonly woken = new Map<number, number>();
  private readonly stats: FunctionStats;

  constructor(
    private readonly s: Parts,
    runtime: Segment,
  ) {
    this.stats = new FunctionStats(runtime);
    s.gateways.onDemand = (id, gateway) => this.wake(id, gateway);
  }

  /** The count the scaler aims at for `id`, or undefined for a function with fixed replicas. */
  desired(id: number): number | undefined {
    return this.state.get(id)?.desired;
  }

  private load(id: number): number {
    const v = this.stats.get(id, FN_INFLIGHT);
    return Number.isFinite(v) && v > 0 ? Math.min(v, LOAD_CAP) : 0;
  }

  /** Runs until the shutdown clears the supervisor's timers: a sample every SAMPLE_MS. */
  run(later: (fn: () => void, ms: number) => void): void {
    const tick = () => {
      this.sample();
      later(tick, SAMPLE_MS);
    };
    tick();
  }

  /** Every SAMPLE_MS: each elastic function's load against its target; the warm spares refilled. */
  sample(): void {
    this.each((f, st) => this.decide(f, st));
    this.s.spares.fill();
  }

  /**
   * A gateway holds a request for function `id` and has no replica of it: if the function is at
   * zero and its counters say so too, it scales up now (a spare adopted in this turn of the loop).
   */
  wake(id: number, gateway: number): void {
    const f = this.s.functions.get(id);
    const st = this.state.get(id);
    if (!f?.scale || !st || st.desired !== 0) return;
    const now = performance.now();
    if (now - (this.woken.get(id) ?? -Infinity) < WAKE_MIN_MS) return;
    this.woken.set(id, now);
    this.each((g, s) => {
      if (g.id === id && this.load(id) > 0) this.decide(g, s, `, signalled by gateway ${gateway}`);
    });
  }

  /** A deploy set a new count (its replicas started ready): the scaler starts from there. */
  reset(f: FnEntry, replicas: number): void {
    if (f.scale) this.state.set(f.id, initialScale(f.scale, replicas, Date.now()));
    else this.state.delete(f.id);
  }

  private each(fn: (f: FnEntry & { scale: NonNullable<FnEntry['scale']> }, st: ScaleState) => void): void {
    if (this.s.stopping || this.s.phase !== 'running') return;
    for (const f of this.s.functions.values()) {
      if (!f.scale) continue;
      let st = this.state.get(f.id);
      if (!st) this.state.set(f.id, (st = initialScale(f.scale, this.live(f).length, Date.now())));
      fn(f as FnEntry & { scale: NonNullable<FnEntry['scale']> }, st);
    }
  }

  /** Replicas of the serving version that count: not draining, not gone. */
  private live(f: FnEntry): Child[] {
    return this.s.containers.of(f.id, f.deployment).filter((c) => !c.stopping && c.state !== 'stopped');
  }

  /** `via`: how the scaler heard, for the log line (a gateway's demand, or nothing: its sample). */
  private decide(f: FnEntry & { scale: NonNullable<FnEntry['scale']> }, st: ScaleState, via = ''): void {
    // A deploy (or its drain) in progress owns the function's replicas until it is done.
    if (this.s.containers.of(f.id).some((c) => c.spec.deployment !== f.deployment)) return;
    const load = this.load(f.id);
    const was = st.desired;
    const d = decideScale(f.scale, st, Date.now(), load);
    const live = this.live(f);
    if (d.desired === live.length) return;
    // A request may be waiting: the replicas first, the log line after.
    if (d.desired > live.length) this.up(f, live, d.desired - live.length);
    else this.down(f, live, live.length - d.desired);
    // Logged when the count changes; catching up with it (a replica still draining) is not news.
    if (d.reason) this.note(f, `scaling ${d.desired > was ? 'up' : 'down'} ${was} → ${d.desired} replica(s): ${d.reason}${via} (min ${f.scale.min}, max ${f.scale.max})`);
  }

  private up(f: FnEntry & { scale: NonNullable<FnEntry['scale']> }, live: Child[], want: number): void {
    const all = this.s.containers.of(f.id);
    // Replicas still draining count against max too: processes of the function never exceed it
    // (its domain's cgroup is sized for max). The next sample starts the rest once they are gone.
    let n = Math.min(want, f.scale.max - all.length);
    if (n <= 0) return;
    const taken = new Set(all.map((c) => c.spec.replica));
    for (let r = 0; n > 0; r++) {
      if (taken.has(r)) continue;
      try {
        // A warm spare of its domain when one fits: a cold start of milliseconds, not a process's.
        if (!this.s.spares.take(f, r)) this.s.containers.start(f, r);
      } catch (err) {
        this.note(f, `cannot start replica ${r}: ${(err as Error).message}`);
        return;
      }
      n--;
    }
    // Replicas given up on made the route unavailable; a fresh one makes it routable again.
    if (live.some((c) => c.state === 'failed')) this.s.pushRoutes().catch(() => undefined);
    this.s.writeState();
  }

  /** Drains `n` replicas: given-up and restarting ones first, then the highest-numbered. */
  private down(f: FnEntry, live: Child[], n: number): void {
    const rank = (c: Child) => (c.state === 'failed' ? 0 : c.state === 'crashed' ? 1 : c.state === 'starting' ? 2 : 3);
    const victims = [...live].sort((a, b) => rank(a) - rank(b) || b.spec.replica - a.spec.replica).slice(0, n);
    for (const c of victims) c.stopping = true;
    const failed = victims.some((c) => c.state === 'failed');
    void Promise.all(
      victims.map(async (c) => {
        await c.stop();
        this.s.containers.drop([c]);
      }),
    ).then(() => {
      this.s.writeState();
      if (failed) return this.s.pushRoutes();
    }).catch(() => undefined);
    this.s.writeState();
  }

  /** A scale event: the supervisor's log (and its event stream) and the function's own log. */
  private note(f: FnEntry, message: string): void {
    this.s.events.info(`function ${f.id} (${f.name}): ${message}`);
    this.s.logs.write(logFileFor('container', f.id), 'scaler', message);
  }
}
