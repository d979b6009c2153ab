// Arithmetic on histogram snapshots read from the segment: summaries, sums, differences.
import { HistogramSnapshot, bucketHigh } from '../shm/index.js';
import type { LatencySummary } from './types.js';

/** No values: what an unchanged histogram recorded since the last read. Never written to. */
export const NOTHING = new HistogramSnapshot();

/**
 * Each histogram's summary, made once: `top` reuses a histogram read from the segment while its
 * count stands still, and summarized every one of them (eleven functions, five stages, all-time
 * and recent) on every refresh; walking the buckets was a tenth of its garbage. A HistogramSnapshot
 * is not changed once summarized (merge() fills only fresh ones), and a summary is not written to.
 */
const summaries = new WeakMap<HistogramSnapshot, LatencySummary>();

export function summarize(h: HistogramSnapshot): LatencySummary {
  let s = summaries.get(h);
  if (!s) {
    s = { count: h.count, p50: h.quantile(0.5), p99: h.quantile(0.99), mean: h.mean(), max: h.max };
    summaries.set(h, s);
  }
  return s;
}

export function merge(into: HistogramSnapshot, h: HistogramSnapshot): void {
  for (let i = 0; i < into.buckets.length; i++) into.buckets[i] += h.buckets[i];
  into.count += h.count;
  into.sum += h.sum;
  into.max = Math.max(into.max, h.max);
}

/** `cur` minus `prev`: the requests recorded between two reads of one histogram. */
export function since(cur: HistogramSnapshot, prev: HistogramSnapshot): HistogramSnapshot {
  const d = new HistogramSnapshot();
  for (let i = 0; i < d.buckets.length; i++) d.buckets[i] = cur.buckets[i] - prev.buckets[i];
  d.count = cur.count - prev.count;
  d.sum = cur.sum - prev.sum;
  // The record keeps one all-time max; the interval's is bounded by its highest non-empty bucket.
  let top = d.buckets.length - 1;
  while (top >= 0 && d.buckets[top] === 0) top--;
  d.max = top < 0 ? 0 : Math.min(cur.max, bucketHigh(top) - 1);
  return d;
}
