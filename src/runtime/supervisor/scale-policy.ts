// How many replicas an elastic function should run (functions[].scale): a pure function of its
// scale config, what it ran so far and the load the gateways count, unit-tested like policy.ts.
// Load is requests in flight, queued ones included, summed over every gateway: under a closed loop
// it is the clients' concurrency, under an open loop it grows while replicas are short.
import type { ScaleConfig } from '../../config/types.js';

/** Load is averaged over this long before replicas are added: "about a second of sustained load". */
export const UP_WINDOW_MS = 1000;

export interface ScaleSample {
  at: number;
  load: number;
}

export interface ScaleState {
  desired: number;
  /** Samples of the last `idleMs` (at least UP_WINDOW_MS), oldest first. */
  samples: ScaleSample[];
  /** When `desired` last went up (or the function started): no scale-down within `idleMs` of it. */
  raisedAt: number;
}

export interface ScaleDecision {
  desired: number;
  /** Why it changed, for the log; '' when it did not. */
  reason: string;
}

export function initialScale(s: ScaleConfig, replicas: number, now: number): ScaleState {
  return { desired: Math.min(s.max, Math.max(s.min, replicas)), samples: [], raisedAt: now };
}

const perReplica = (load: number, target: number) => Math.ceil(load / target);

/**
 * Adds a sample and decides. Up: at once from zero on any demand (a request waits for it), else
 * when the average of the last second needs more; down: only when no sample of the last `idleMs`
 * needed as many as run now, and never within `idleMs` of a rise. Always within min..max.
 */
export function decideScale(s: ScaleConfig, st: ScaleState, now: number, rawLoad: number): ScaleDecision {
  const load = Number.isFinite(rawLoad) && rawLoad > 0 ? rawLoad : 0;
  st.samples.push({ at: now, load });
  const keep = Math.max(s.idleMs, UP_WINDOW_MS);
  while (st.samples.length > 1 && st.samples[0].at < now - keep) st.samples.shift();
  const clamp = (n: number) => Math.min(s.max, Math.max(s.min, n));
  const was = st.desired;
  if (was === 0 && load > 0) return raise(st, clamp(Math.max(1, perReplica(load, s.target))), now, `${load} request(s) waiting at zero`);
  const recent = st.samples.filter((x) => x.at >= now - UP_WINDOW_MS);
  const avg = recent.reduce((a, x) => a + x.load, 0) / recent.length;
  const up = clamp(perReplica(avg, s.target));
  if (up > was) return raise(st, up, now, `${avg.toFixed(1)} in flight on average over ${UP_WINDOW_MS} ms, target ${s.target} per replica`);
  // Down needs a whole idle window of samples, all below what the current count carries.
  if (now - st.raisedAt < s.idleMs || st.samples[0].at > now - s.idleMs + SAMPLE_SLACK_MS) return { desired: was, reason: '' };
  const peak = st.samples.reduce((a, x) => Math.max(a, x.load), 0);
  const down = clamp(perReplica(peak, s.target));
  if (down >= was) return { desired: was, reason: '' };
  st.desired = down;
  // The next step down waits a whole window again.
  st.raisedAt = now;
  return { desired: down, reason: peak === 0 ? `idle for ${s.idleMs} ms` : `at most ${peak} in flight for ${s.idleMs} ms, target ${s.target} per replica` };
}

/** A window counts as covered when its oldest sample is this close to its start (ticks drift). */
const SAMPLE_SLACK_MS = 250;

function raise(st: ScaleState, n: number, now: number, reason: string): ScaleDecision {
  st.desired = n;
  st.raisedAt = now;
  return { desired: n, reason };
}
