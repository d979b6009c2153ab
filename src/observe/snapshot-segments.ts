// The segment parts of a snapshot: the runtime segment and each domain's (size, pages touched,
// creator, who maps it), each domain's pool and the isolation its containers report, and the
// pools added up per size class.
import { Segment, pidAlive, type ClassUsage, type ProcEntry } from '../shm/index.js';
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

/** A domain: its segment, its pool, and the isolation its containers report. */
export function domainInfo(d: Segment, procs: ProcEntry[], now: number, registered: Set<number>, holders: Holders, alive: (pid: number) => boolean = pidAlive): DomainSnapshot {
  const info = segmentInfo(d, now, registered, holders, alive);
  const usage = d.pool.usage();
  const pool = usage.map(withPercent);
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
