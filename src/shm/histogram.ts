// Log-linear latency histogram in the layout HdrHistogram uses (Gil Tene's bucket/sub-bucket
// indexing): exact below 32 µs, then 16 linear sub-buckets per power of two, so every recorded
// value is within ~6 % of the truth from 1 µs to 35 minutes, in a fixed 3.6 KiB record that lives
// in shared memory. One process writes a record; anyone may read it.

const SUB_BITS = 5;
const SUB_COUNT = 1 << SUB_BITS; // 32: values below this have their own bucket
const HALF = SUB_COUNT >> 1; // 16 sub-buckets per power of two above that
/** Largest value kept apart (µs); larger ones land in the last bucket. 2^31 µs ≈ 35 min. */
const MAX_VALUE = 0x7fffffff;
// 464 slots; bucketIndex never returns more than 447 (2^31−1 µs → 16·26+31), so the last 16 stay
// zero. Trimming them would change the segment layout (a layout-version bump) for 128 bytes.
export const HISTOGRAM_BUCKETS = HALF * (31 - SUB_BITS + 1) + SUB_COUNT;
const H_COUNT = 0;
const H_SUM = 1;
const H_MAX = 2;
const H_FIRST = 3;
/** f64 words per histogram record: count, sum, max, buckets, one word of padding. */
export const HISTOGRAM_SLOTS = H_FIRST + HISTOGRAM_BUCKETS + 1;

export function bucketIndex(value: number): number {
  const v = value < 0 ? 0 : value > MAX_VALUE ? MAX_VALUE : value | 0;
  if (v < SUB_COUNT) return v;
  const bucket = 31 - Math.clz32(v) - SUB_BITS + 1;
  return HALF * bucket + (v >>> bucket);
}

/** Smallest value that maps to bucket `i`. */
export function bucketLow(i: number): number {
  if (i < SUB_COUNT) return i;
  const bucket = Math.floor(i / HALF) - 1;
  return (i - HALF * bucket) * 2 ** bucket;
}

/** First value past bucket `i`. */
export function bucketHigh(i: number): number {
  if (i < SUB_COUNT) return i + 1;
  const bucket = Math.floor(i / HALF) - 1;
  return (i - HALF * bucket + 1) * 2 ** bucket;
}

/** Records `micros` into the histogram at `off` of `h` (single writer: plain stores suffice). */
export function record(h: Float64Array, off: number, micros: number): void {
  h[off + H_FIRST + bucketIndex(micros)]++;
  h[off + H_COUNT]++;
  h[off + H_SUM] += micros;
  if (micros > h[off + H_MAX]) h[off + H_MAX] = micros;
}

/** A count read from shared memory: a whole number ≥ 0 and below 2^53, else 0. */
export function sane(x: number): number {
  return Number.isSafeInteger(x) && x >= 0 ? x : 0;
}

/**
 * How many values the record at `off` of `h` holds: every record() moves it, so a reader that
 * finds it unchanged need not copy the record again.
 */
export function recordCount(h: Float64Array, off: number): number {
  return sane(h[off + H_COUNT]);
}

/** A private copy of one or more records added together (replicas of one function, say). */
export class HistogramSnapshot {
  readonly buckets = new Float64Array(HISTOGRAM_BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  /**
   * Adds the record at `off` of `h`. A container's record lives in its domain segment, which its
   * code can overwrite: a word that is not a count (negative, fractional, NaN, infinite) counts as 0,
   * so a reader shows nonsense numbers for that function at worst, never fails.
   */
  add(h: Float64Array, off: number): this {
    this.count += sane(h[off + H_COUNT]);
    this.sum += sane(h[off + H_SUM]);
    this.max = Math.max(this.max, sane(h[off + H_MAX]));
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.buckets[i] += sane(h[off + H_FIRST + i]);
    return this;
  }

  /** Value at quantile q (0..1), the midpoint of the bucket that holds it, in µs. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const target = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.buckets[i];
      if (seen >= target) return Math.min(this.max, (bucketLow(i) + bucketHigh(i) - 1) / 2);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }
}
