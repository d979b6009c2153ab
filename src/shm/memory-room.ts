// Memory as a new domain segment sees it. A domain segment is a memfd, not a file in /dev/shm, so
// /dev/shm's free space says nothing about it: its pages come from memory (charged, like tmpfs
// pages, to the memory cgroup of whoever touches them first), lazily as they are written. A memfd
// whose pages cannot be found is not a SIGBUS (its size is sealed, every page is always there to
// fault in) but memory pressure and, at worst, the OOM killer. So creation checks the segment's
// budget against the memory there is (MemAvailable, and the limit of this process's memory cgroup
// where one is set, as in a pod) less what the live faasflow domain segments may still claim:
// each its tables and budget (space.ts, holdable), not the larger size its classes reserve.
import fs from 'node:fs';
import { ShmError } from './errors.js';
import { segmentEntries } from './locate.js';
import { holdsOf, type SegmentClaim } from './space.js';
import { fmtBytes } from '../common/units.js';

/** Memory as a new domain segment sees it. */
export interface MemoryRoom {
  /** MemAvailable in /proc/meminfo: what can be had without swapping. */
  available: number;
  /** What this process's memory cgroup (and its ancestors) still allows; null when none sets a limit. */
  cgroup: number | null;
  /**
   * What every live faasflow domain segment this process can see may still come to hold, added up:
   * its tables and budget less what it holds now (its classes reserve more, which is never held at once).
   */
  claimed: number;
  segments: SegmentClaim[];
  /** min(available, cgroup) − claimed: what a new segment may take. */
  room: number;
}

/** MemAvailable in bytes (Infinity when /proc/meminfo does not say). */
function memAvailable(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'latin1'));
    return m ? Number(m[1]) * 1024 : Infinity;
  } catch {
    return Infinity;
  }
}

const read = (file: string): number | null => {
  try {
    const text = fs.readFileSync(file, 'latin1').trim();
    return text === 'max' ? Infinity : Number(text);
  } catch {
    return null;
  }
};

/**
 * Limit less usage of this process's memory cgroup and each of its ancestors, the smallest (a
 * pod's limit may sit on the pod's cgroup or the container's); null where no level sets one.
 * v2 (memory.max, memory.current) and v1 (memory.limit_in_bytes, memory.usage_in_bytes).
 */
function cgroupRoom(): number | null {
  let lines: string[];
  try {
    lines = fs.readFileSync('/proc/self/cgroup', 'latin1').split('\n');
  } catch {
    return null;
  }
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))?.split(':')[2];
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const levels = (root: string, p: string) => p.split('/').filter(Boolean).reduce((acc, part) => [...acc, `${acc.at(-1)!}/${part}`], [root]);
  const candidates = v1 !== undefined ? levels('/sys/fs/cgroup/memory', v1).map((d) => [`${d}/memory.limit_in_bytes`, `${d}/memory.usage_in_bytes`]) : v2 !== undefined ? levels('/sys/fs/cgroup', v2).map((d) => [`${d}/memory.max`, `${d}/memory.current`]) : [];
  let room: number | null = null;
  for (const [limitFile, usageFile] of candidates) {
    const limit = read(limitFile!);
    const usage = read(usageFile!);
    // v1 says "no limit" with a number near 2^63.
    if (limit === null || usage === null || !Number.isFinite(limit) || limit >= 2 ** 62) continue;
    room = Math.min(room ?? Infinity, Math.max(0, limit - usage));
  }
  return room;
}

/** Memory less what live faasflow domain segments may still claim: what a new one is checked against. */
export function memoryRoom(): MemoryRoom {
  const segments: SegmentClaim[] = [];
  for (const e of segmentEntries()) {
    if (!e.memfd) continue;
    try {
      const st = fs.statSync(e.path);
      const touched = Math.min(st.size, st.blocks * 512);
      const holds = holdsOf(e.path, e.name, st.size);
      segments.push({ name: e.name, size: st.size, holds, touched, untouched: Math.max(0, holds - touched) });
    } catch {
      // gone meanwhile, or another user's
    }
  }
  const available = memAvailable();
  const cgroup = cgroupRoom();
  const claimed = segments.reduce((a, c) => a + c.untouched, 0);
  return { available, cgroup, claimed, segments, room: Math.min(available, cgroup ?? Infinity) - claimed };
}

/** The error for a domain segment of `bytes` that memory has no room for, saying what there is and what to change. */
export function noMemoryError(name: string, bytes: number, r: MemoryRoom): ShmError {
  const limit = r.cgroup !== null && r.cgroup < r.available ? `${fmtBytes(r.cgroup)} left under this process's memory cgroup limit` : `${fmtBytes(r.available)} of memory available (MemAvailable)`;
  const n = r.segments.filter((s) => s.untouched > 0).length;
  const claims = r.claimed > 0 ? `, ${fmtBytes(r.claimed)} of that claimed by the untouched pages of ${n} faasflow domain segment${n === 1 ? '' : 's'} (memory they take as they are written), so ${fmtBytes(Math.max(0, r.room))} is really free` : '';
  return new ShmError(`not enough memory for domain segment ${name} (${fmtBytes(bytes)}): ${limit}${claims}. Lower segment.size in faasflow.config.ts, stop other instances, or give the machine (or the pod's memory limit) more memory.`, 'ENOMEM', name);
}
