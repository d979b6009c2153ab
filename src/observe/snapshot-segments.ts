// The segment parts of a snapshot: the runtime segment and each domain's (size, pages touched,
// creator, who maps it), each domain's pool and the isolation its containers report, and the
// pools added up per size class.
import { Segment, oneClassUsage, pidAlive, type ClassUsage, type ProcEntry } from '../shm/index.js';
import { enforcementName } from '../sys/sandbox.js';
import type { Holders } from './holders.js';
import type { DomainSnapshot, PoolClassSnapshot, SegmentInfo } from './types.js';

/** `alive`: whether a pid runs (the snapshot reads each once). */
export function segmentInfo(seg: Segment, now: number, registered: Set<number>, holders: Holders, alive: (pid: number) => boolean = pidAlive): SegmentInfo {
  let size = seg.header.size;
  let touched = 0;
  try {
    ({ size, touched } = Segment.stat(seg));
  } catch {
    // unlinked since we mapped it: the follower will notice
  }
  // Between scans a holder may have exited (a replica restarted): it would show as a stranger.
  const live = holders.of(seg.name).filter((h) => alive(h.pid));
  return {
    name: seg.name,
    path: seg.path,
    size,
    touched,
    layoutVersion: seg.header.version,
    creatorPid: seg.header.creatorPid,
    creatorAlive: alive(seg.header.creatorPid),
    createdAt: new Date(seg.header.createdAt).toISOString(),
    uptimeS: Math.max(0, (now - seg.header.createdAt) / 1000),
    holders: live.map(({ pid, command, writes }) => ({ pid, command, registered: registered.has(pid), writes })),
  };
}

/**
 * Each domain's pool usage, for a view refreshed every second. Scanning a pool (every owner word
 * of its packet table, ~20k at the defaults, and the kernel's residency of its used classes) costs
 * a live `top` more than the rest of a domain's numbers together. Every claim and free moves its
 * class's counter words (in use, high-water mark): a class whose words did not move is shown as
 * last scanned, so light load rescans the one class its requests use. They are words a container
 * of the domain can write, so a class is scanned at least every `maxAgeMs` whatever they say (0:
 * every class at every snapshot); the classes of a domain come due on different refreshes, not
 * all on one. Waits and refusals are read every time (domainMemory).
 */
export class PoolUsage {
  private last = new WeakMap<Segment, { words: Int32Array; at: Float64Array; usage: ClassUsage[] }>();

  constructor(private readonly maxAgeMs: number) {}

  of(d: Segment, now: number): ClassUsage[] {
    const classes = d.layout.classes;
    if (this.maxAgeMs <= 0) return d.pool.usage();
    let prev = this.last.get(d);
    if (!prev || prev.usage.length !== classes.length) {
      // The counters before the scan: a claim in between is seen again on the next call.
      const words = Int32Array.from({ length: classes.length * 2 }, (_, w) => d.i32[classes[w >> 1].counterWord + (w & 1)]);
      const usage = d.pool.usage();
      // Spread the forced rescans over the age limit: class k first comes due k/n of the way through.
      const at = Float64Array.from(classes, (_, k) => now - (k * this.maxAgeMs) / classes.length);
      prev = { words, at, usage };
      this.last.set(d, prev);
    }
    let usage = prev.usage;
    for (let k = 0; k < classes.length; k++) {
      const c = classes[k];
      const inUse = d.i32[c.counterWord];
      const high = d.i32[c.counterWord + 1];
      if (inUse === prev.words[2 * k] && high === prev.words[2 * k + 1] && now - prev.at[k] < this.maxAgeMs) continue;
      prev.words[2 * k] = inUse;
      prev.words[2 * k + 1] = high;
      prev.at[k] = now;
      const next = oneClassUsage(d, c);
      if (sameUsage(next, usage[k])) continue;
      // A new array whenever a class changed: the rows built from the last one (withPercents) stay valid for it.
      if (usage === prev.usage) usage = [...usage];
      usage[k] = next;
    }
    prev.usage = usage;
    return usage;
  }
}

function sameUsage(a: ClassUsage, b: ClassUsage): boolean {
  return a.inUse === b.inUse && a.highWater === b.highWater && a.bytesInUse === b.bytesInUse && a.touched === b.touched && a.count === b.count && a.size === b.size;
}

/** A domain: its segment, its pool, and the isolation its containers report. */
export function domainInfo(d: Segment, procs: ProcEntry[], now: number, registered: Set<number>, holders: Holders, alive: (pid: number) => boolean = pidAlive, pools?: PoolUsage): DomainSnapshot {
  const info = segmentInfo(d, now, registered, holders, alive);
  const usage = pools ? pools.of(d, now) : d.pool.usage();
  // The same usage as the last snapshot's (PoolUsage): the same rows.
  const pool = withPercents.get(usage) ?? usage.map(withPercent);
  withPercents.set(usage, pool);
  const memory = d.pool.memory(usage);
  const mine = procs.filter((p) => p.role === 'container' && p.domainIndex === d.header.domainIndex && alive(p.pid));
  const kinds = [...new Set(mine.map((p) => enforcementName(p.sandbox)))];
  return {
    index: d.header.domainIndex,
    name: d.header.domain,
    enforcement: kinds.length === 1 ? kinds[0] : kinds.length ? kinds.join(' / ') : null,
    packetsInUse: pool.reduce((a, c) => a + c.inUse, 0),
    memory: { ...memory, usedPercent: memory.budget ? (100 * memory.held) / memory.budget : 0 },
    pool,
    segment: info,
  };
}

const withPercents = new WeakMap<ClassUsage[], PoolClassSnapshot[]>();

function withPercent(c: ClassUsage): PoolClassSnapshot {
  return { ...c, usedPercent: c.count ? (100 * c.inUse) / c.count : 0 };
}

/** The pools of every domain added up per size class: what the instance has of each. */
export function sumPools(pools: PoolClassSnapshot[][]): PoolClassSnapshot[] {
  const by = new Map<number, ClassUsage>();
  for (const c of pools.flat()) {
    const t = by.get(c.size) ?? { size: c.size, count: 0, inUse: 0, free: 0, highWater: 0, bytesInUse: 0, packetBytes: 0, touched: 0 };
    by.set(c.size, {
      size: c.size, count: t.count + c.count, inUse: t.inUse + c.inUse, free: t.free + c.free, highWater: t.highWater + c.highWater,
      bytesInUse: t.bytesInUse + c.bytesInUse, packetBytes: t.packetBytes + c.packetBytes, touched: t.touched + c.touched,
    });
  }
  return [...by.values()].sort((a, b) => a.size - b.size).map(withPercent);
}
