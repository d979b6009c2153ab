// The checks on `segment` that need more than one field: the size classes (what the layout will
// accept, said at load instead of at `up`) and whether each domain's share of segment.size can
// hold a body of the largest class beside the reserve kept for replies.
import { DEFAULT_CLASSES, MIN_DOMAIN_BYTES, requestLimit, type ClassSpec } from '../shm/layout.js';
import { MAX_BUDGET, MAX_CLASSES, MAX_CLASS_BYTES, MIN_CLASS_BYTES } from '../shm/constants.js';
import { fmtBytes } from '../common/units.js';

export interface SegmentIssue {
  path: (string | number)[];
  message: string;
}

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;

/**
 * Each domain's budget: segment.size split evenly over the domains at `up`, at least
 * MIN_DOMAIN_BYTES (the supervisor and the export's sizing use this too).
 */
export function domainBudget(size: number, domains: number): number {
  return Math.max(MIN_DOMAIN_BYTES, Math.floor(size / Math.max(1, domains)));
}

/** Stats records per replica of a domain: the replicas, their replacements during a deploy, restarts. */
const STATS_SLOTS_PER_REPLICA = 4;
const MIN_STATS_SLOTS = 16;

/** The per-process stats records a domain segment gets for `replicas` containers (its other tables are fixed). */
export function domainStatsSlots(replicas: number): number {
  return Math.max(MIN_STATS_SLOTS, replicas * STATS_SLOTS_PER_REPLICA);
}

/** What is wrong with `segment.size` and `segment.classes` for `domains` domains, field by field. */
export function segmentIssues(size: number, listed: ClassSpec[] | undefined, domains: number): SegmentIssue[] {
  const classes = listed ?? DEFAULT_CLASSES;
  // None listed: the schema says so already.
  if (classes.length === 0) return [];
  const out: SegmentIssue[] = [];
  if (classes.length > MAX_CLASSES) out.push({ path: ['segment', 'classes'], message: `${classes.length} size classes, at most ${MAX_CLASSES} are allowed: leave some out (every power of two from 4 KiB to 128 MiB is 16)` });
  let prev = 0;
  classes.forEach((c, i) => {
    if (!isPow2(c.size) || c.size < MIN_CLASS_BYTES || c.size > MAX_CLASS_BYTES) {
      out.push({ path: ['segment', 'classes', i, 'size'], message: `${c.size} is not a power of two from 256 B to 1 GiB: use e.g. '64KiB' or '1MiB'` });
    } else if (c.size <= prev) out.push({ path: ['segment', 'classes', i, 'size'], message: `${fmtBytes(c.size)} comes after ${fmtBytes(prev)}: list the classes smallest first, each once` });
    prev = Math.max(prev, c.size);
  });
  if (out.length) return out;
  const budget = domainBudget(size, domains);
  const where = `each of the ${domains} domain${domains === 1 ? '' : 's'} gets ${fmtBytes(budget)} of segment.size (${fmtBytes(size)})`;
  if (budget > MAX_BUDGET) return [{ path: ['segment', 'size'], message: `${where}, more than one domain can hold (${fmtBytes(MAX_BUDGET)}): lower segment.size` }];
  // A body of the largest class and a small packet for its metadata must fit in what requests may
  // take: the budget less the reserve for replies (an eighth of it, at least the largest class).
  const largest = classes[classes.length - 1].size;
  if (requestLimit({ budget, classes }) < largest + classes[0].size) {
    const MiB = 1 << 20;
    const needed = Math.ceil(((2 * largest + classes[0].size) * Math.max(1, domains)) / MiB) * MiB;
    out.push({ path: ['segment', 'classes'], message: `a body of the largest class (${fmtBytes(largest)}) never fits: ${where}, and a request may take the budget less a reserve for replies at least as large as that class. Raise segment.size to ${fmtBytes(needed)} or more, or drop the largest class` });
  }
  return out;
}
