// The segment parts of a snapshot: the runtime segment and each domain's (size, pages touched,
// creator, who maps it), each domain's pool and the isolation its containers report, and the
// pools added up per size class.
import { Segment, pidAlive, type ClassUsage, type ProcEntry } from '../shm/index.js';
import { POOL_COUNTER_WORDS } from '../shm/constants.js';
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
 * a live `top` more than the rest of a domain's numbers together. Every claim and free moves the
 * pool's counter words (each class's in-use count and high-water mark, the charged bytes), and
 * waits and refusals move theirs: while none has moved, the pool is shown as last scanned. They
 * are words a container of the domain can write, so a pool is scanned at least every `maxAgeMs`
 * whatever they say (0: at every snapshot).
 */
export class PoolUsage {
  private last = new WeakMap<Segment, { key: string; at: number; usage: ClassUsage[] }>();

  constructor(private readonly maxAgeMs: number) {}

  of(d: Segment, now: number): ClassUsage[] {
    if (this.maxAgeMs <= 0) return d.pool.usage();
    const words: number[] = [];
    for (const c of d.layout.classes) words.push(Atomics.load(d.i32, c.counterWord), Atomics.load(d.i32, c.counterWord + 1));
    for (let w = 0; w < POOL_COUNTER_WORDS; w++) words.push(Atomics.load(d.i32, d.layout.poolWord + w));
    const key = words.join(',');
    const prev = this.last.get(d);
    if (prev && prev.key === key && now - prev.at < this.maxAgeMs) return prev.usage;
    const usage = d.pool.usage();
    this.last.set(d, { key, at: now, usage });
    return usage;
  }
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
