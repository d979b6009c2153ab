// Per-process memory and CPU from /proc: what pidstat, pmap -x and top would each show a part of.
// RSS alone misleads for faasflow processes: every one of them maps the shared segment, and the
// packet pages it touched count in its RSS. So the segment is split out and "private" means the
// process's own memory, the number a leak makes grow and a memoryLimit applies to.
import { SEGMENT_PREFIX, SHM_DIR, memfdLabel } from '../shm/index.js';
import { cpuSeconds, readProc, readProcAsync, statCpuSeconds } from './procfs.js';

export interface MemorySample {
  pid: number;
  /** ms since the epoch when sampled. */
  at: number;
  /** Resident set size: every page of the process in RAM, its own and shared ones. */
  rss: number;
  /** Proportional set size: shared pages divided among the processes sharing them. */
  pss: number;
  /** Resident pages mapped by this process only (Private_Clean + Private_Dirty), minus the faasflow segment. */
  privateBytes: number;
  /** Resident pages also mapped by other processes (Shared_Clean + Shared_Dirty): libraries, the node binary, the segment. */
  sharedBytes: number;
  /** Resident bytes of faasflow segment mappings (/dev/shm/faasflow-*, and the domain segments' /memfd:faasflow-*) in this process. */
  shmBytes: number;
  /** Anonymous resident memory (status RssAnon): heap, stacks. */
  anonBytes: number;
  swapBytes: number;
  /** utime + stime in seconds. */
  cpuTime: number;
}

const SHM_MAPPING = `${SHM_DIR}/${SEGMENT_PREFIX}`;
const MEMFD_MAPPING = memfdLabel(`/${SEGMENT_PREFIX}`);

/** "Name:   1234 kB" lines of /proc files → bytes for the names asked for. */
function kb(line: string, from: number): number {
  return Number(line.slice(from, line.length - 3)) * 1024;
}

function statusKb(status: string, key: string): number {
  const at = status.indexOf(`\n${key}:`);
  if (at < 0) return 0;
  const end = status.indexOf('\n', at + 1);
  return kb(status.slice(at + 1, end < 0 ? undefined : end).trimEnd(), key.length + 1);
}

/**
 * One full sample of `pid`, or null when it is gone or not ours to read. Reads the kernel's sums
 * (/proc/<pid>/smaps_rollup) rather than every mapping's (smaps: ~25 lines for each of a Node
 * process's hundreds of mappings, ~2 ms to make and parse); status and stat add the segment's
 * resident pages (RssShmem), anon and CPU. Where the kernel has no Pss_Shmem in the rollup
 * (before 5.7) it reads smaps as before.
 */
export function sampleMemory(pid: number): MemorySample | null {
  const rollup = readProc(pid, 'smaps_rollup');
  const status = readProc(pid, 'status');
  const cpuTime = cpuSeconds(pid);
  if (rollup === null || status === null || cpuTime === null) return null;
  if (rollup.includes('\nPss_Shmem:')) return parseRollup(pid, rollup, status, cpuTime);
  const smaps = readProc(pid, 'smaps');
  return smaps === null ? null : parseSample(pid, smaps, status, cpuTime);
}

/**
 * sampleMemory for a caller that has just read the process's status and CPU time (`top`): only
 * the rollup (or, before 5.7, smaps) is read here.
 */
export function sampleMemoryWith(pid: number, status: string, cpuTime: number): MemorySample | null {
  const rollup = readProc(pid, 'smaps_rollup');
  if (rollup === null) return null;
  if (rollup.includes('\nPss_Shmem:')) return parseRollup(pid, rollup, status, cpuTime);
  const smaps = readProc(pid, 'smaps');
  return smaps === null ? null : parseSample(pid, smaps, status, cpuTime);
}

/** What /proc/<pid>/status says of a process's memory: no walk of its page tables, so cheap to read every refresh. */
export interface StatusMemory {
  rss: number;
  anonBytes: number;
  shmBytes: number;
  swapBytes: number;
}

export function statusMemory(status: string): StatusMemory {
  return { rss: statusKb(status, 'VmRSS'), anonBytes: statusKb(status, 'RssAnon'), shmBytes: statusKb(status, 'RssShmem'), swapBytes: statusKb(status, 'VmSwap') };
}

/**
 * A full sample brought up to date by a later status reading: RSS, anon, shm and swap as they are
 * now; private and PSS as at the full sample, moved by the change in anonymous memory since (a
 * process's own memory grows and shrinks as anonymous memory, its heap and stacks; its private
 * file pages and the segment pages only it maps seldom move), and shared by the rest of the RSS
 * change. Exact for RSS, shm, anon and swap; private, shared and PSS are off at most by what
 * moved outside anonymous memory since the full sample.
 */
export function carryForward(full: MemorySample, now: StatusMemory, at: number, cpuTime: number): MemorySample {
  const anon = now.anonBytes - full.anonBytes;
  return {
    pid: full.pid,
    at,
    rss: now.rss,
    pss: Math.max(0, full.pss + anon),
    privateBytes: Math.max(0, full.privateBytes + anon),
    sharedBytes: Math.max(0, full.sharedBytes + (now.rss - full.rss) - anon),
    shmBytes: now.shmBytes,
    anonBytes: now.anonBytes,
    swapBytes: now.swapBytes,
    cpuTime,
  };
}

/** sampleMemory with the reads on the libuv thread pool: the event loop only parses. */
export async function sampleMemoryAsync(pid: number): Promise<MemorySample | null> {
  const [rollup, status, stat] = await Promise.all([readProcAsync(pid, 'smaps_rollup'), readProcAsync(pid, 'status'), readProcAsync(pid, 'stat')]);
  if (rollup === null || status === null || stat === null) return null;
  if (rollup.includes('\nPss_Shmem:')) return parseRollup(pid, rollup, status, statCpuSeconds(stat));
  const smaps = await readProcAsync(pid, 'smaps');
  return smaps === null ? null : parseSample(pid, smaps, status, statCpuSeconds(stat));
}

/**
 * Full samples of `pids`, `concurrency` at a time on the libuv thread pool: the kernel's walk of each
 * process's page tables runs in parallel and off the caller's event loop. Gone pids are left out.
 */
export async function sampleMemoryAll(pids: number[], concurrency = 4): Promise<Map<number, MemorySample>> {
  const out = new Map<number, MemorySample>();
  let next = 0;
  const worker = async () => {
    while (next < pids.length) {
      const m = await sampleMemoryAsync(pids[next++]);
      if (m) out.set(m.pid, m);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, pids.length) }, worker));
  return out;
}

/**
 * A sample from the rollup. The segment is the process's shared memory (status RssShmem: a Node
 * process maps no other shmem). The rollup does not say which of those pages only this process
 * maps (they count as Private_*), so that part is taken from Pss_Shmem: with p pages mapped here
 * alone and s mapped by k processes, Pss_Shmem = p + s/k, and 2·Pss_Shmem − RssShmem is p exactly
 * when k ≤ 2 (a packet's page is touched by its gateway and one container) and less when more
 * processes share pages, so private memory reads high by at most the segment pages this process
 * alone touched.
 */
function parseRollup(pid: number, rollup: string, status: string, cpuTime: number): MemorySample {
  const f = (key: string) => statusKb(rollup, key);
  const shm = statusKb(status, 'RssShmem');
  const priv = f('Private_Clean') + f('Private_Dirty');
  const shmPrivate = Math.min(shm, priv, Math.max(0, 2 * f('Pss_Shmem') - shm));
  return {
    pid,
    at: Date.now(),
    rss: f('Rss'),
    pss: f('Pss'),
    privateBytes: priv - shmPrivate,
    sharedBytes: f('Shared_Clean') + f('Shared_Dirty'),
    shmBytes: shm,
    anonBytes: statusKb(status, 'RssAnon'),
    swapBytes: f('Swap'),
    cpuTime,
  };
}

function parseSample(pid: number, smaps: string, status: string, cpuTime: number): MemorySample {
  let rss = 0;
  let pss = 0;
  let priv = 0;
  let shared = 0;
  let swap = 0;
  let shm = 0;
  let shmPrivate = 0;
  let inShm = false;
  for (const line of smaps.split('\n')) {
    const c = line.charCodeAt(0);
    // Mapping header lines start with a hex address, field lines with a capital letter.
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) {
      inShm = line.includes(SHM_MAPPING) || line.includes(MEMFD_MAPPING);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    switch (line.slice(0, colon)) {
      case 'Rss': {
        const v = kb(line, colon + 1);
        rss += v;
        if (inShm) shm += v;
        break;
      }
      case 'Pss':
        pss += kb(line, colon + 1);
        break;
      case 'Shared_Clean':
      case 'Shared_Dirty':
        shared += kb(line, colon + 1);
        break;
      case 'Private_Clean':
      case 'Private_Dirty': {
        const v = kb(line, colon + 1);
        priv += v;
        if (inShm) shmPrivate += v;
        break;
      }
      case 'Swap':
        swap += kb(line, colon + 1);
        break;
      default:
        break;
    }
  }
  return {
    pid,
    at: Date.now(),
    rss,
    pss,
    privateBytes: priv - shmPrivate,
    sharedBytes: shared,
    shmBytes: shm,
    anonBytes: statusKb(status, 'RssAnon'),
    swapBytes: swap,
    cpuTime,
  };
}
