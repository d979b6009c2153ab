// What `faasflow shm ls` and `shm inspect` report about segments: the answers ls, du, stat, lsof
// and fuser give about /dev/shm/<name> (or a domain segment's memfd), plus what only the segment's
// own header and tables know.
import { ProcessTable, Segment, isShmError, locateSegment, pidAlive, segmentName, type ClassUsage, type DomainMemory, type ProcEntry, type SegmentEntry } from '../shm/index.js';
import { commandLine, scanHolders, type MappedBy } from './procfs.js';

export interface Holder {
  pid: number;
  command: string;
  /** The pid is in the segment's process table (a process faasflow started). */
  registered: boolean;
  /** It maps the segment writable (a runtime process) rather than read-only (`top`, `shm ls`). */
  writes: boolean;
}

export interface SegmentReport {
  /** Segment name, e.g. "/faasflow-default" or "/faasflow-default@resize". */
  name: string;
  /** Where it can be opened: its /dev/shm file, or for a memfd its creator's /proc/<pid>/fd/<n>. */
  path: string;
  /** A sealed memfd (a domain segment: its size can never change), not a file in /dev/shm. */
  memfd: boolean;
  /** Instance name from the header; null when the header is unreadable. */
  instance: string | null;
  /** `runtime` (process table and stats) or `domain` (a security domain's packets); null when unreadable. */
  kind: 'runtime' | 'domain' | null;
  /** A domain segment's domain name; null otherwise. */
  domain: string | null;
  /** Size of the file (the ceiling; its pages are allocated as they are first written). */
  size: number;
  /** Bytes really allocated for it (its tmpfs or memfd blocks): what it costs in RAM. */
  touched: number;
  mode: string;
  uid: number;
  layoutVersion: number | null;
  creatorPid: number | null;
  creatorAlive: boolean;
  createdAt: string | null;
  /** Processes that map it or hold it open (what lsof lists for it); the caller too, if it does. */
  holders: Holder[];
  /** Per size class; null when the header is unreadable. */
  pool: ClassUsage[] | null;
  /** A domain segment's budget, what is held of it, its waits and refusals; null otherwise. */
  memory: DomainMemory | null;
  packetsInUse: number;
  /** Nobody can be using it: the creator is dead and no process maps it writable (readers such as
   * `top` or a concurrent `shm ls` do not count). Safe to remove. */
  stale: boolean;
  /** Why the header could not be read (not ours, other layout version, truncated, permission). */
  error: string | null;
}

export interface OwnerSummary {
  pid: number;
  alive: boolean;
  packets: number;
  bytes: number;
  oldestMs: number;
}

export interface SegmentDetail extends SegmentReport {
  processes: (ProcEntry & { alive: boolean })[];
  /** Held packets grouped by owner pid; packets of dead owners are what reclaim frees. */
  owners: OwnerSummary[];
  layout: { packetCount: number; maxFunctions: number; procSlots: number; metaBytes: number } | null;
}

function report(e: SegmentEntry, mappedBy: MappedBy[], detail: boolean): SegmentDetail {
  const r: SegmentDetail = {
    name: e.name,
    path: e.path,
    memfd: e.memfd,
    instance: null,
    kind: null,
    domain: null,
    size: 0,
    touched: 0,
    mode: '',
    uid: -1,
    layoutVersion: null,
    creatorPid: null,
    creatorAlive: false,
    createdAt: null,
    holders: [],
    pool: null,
    memory: null,
    packetsInUse: 0,
    stale: false,
    error: null,
    processes: [],
    owners: [],
    layout: null,
  };
  try {
    const st = Segment.stat(e);
    Object.assign(r, { size: st.size, touched: st.touched, mode: `0${st.mode.toString(8)}`, uid: st.uid });
  } catch (err) {
    r.error = (err as Error).message;
  }
  let registered = new Set<number>();
  let seg: Segment | null = null;
  try {
    seg = Segment.open(e, false);
    r.instance = seg.header.name;
    r.kind = seg.kind;
    r.domain = seg.kind === 'domain' ? seg.header.domain : null;
    r.layoutVersion = seg.header.version;
    r.creatorPid = seg.header.creatorPid;
    r.creatorAlive = pidAlive(seg.header.creatorPid);
    r.createdAt = new Date(seg.header.createdAt).toISOString();
    r.pool = seg.pool.usage();
    r.memory = seg.kind === 'domain' ? seg.pool.memory(r.pool) : null;
    r.packetsInUse = r.pool.reduce((a, c) => a + c.inUse, 0);
    // The process table is in the runtime segment: a domain segment's processes are the
    // instance's containers of that domain.
    const all = seg.kind === 'runtime' ? new ProcessTable(seg).entries() : runtimeEntries(seg.header.name);
    const entries = seg.kind === 'runtime' ? all : all.filter((e) => e.role !== 'container' || e.domainIndex === seg!.header.domainIndex);
    registered = new Set(all.map((e) => e.pid));
    if (detail) {
      r.processes = entries.map((e) => ({ ...e, alive: pidAlive(e.pid) }));
      r.owners = owners(seg);
      const l = seg.layout;
      r.layout = { packetCount: l.packetCount, maxFunctions: l.maxFunctions, procSlots: l.procSlots, metaBytes: l.metaEnd };
    }
  } catch (err) {
    if (r.error === null) r.error = isShmError(err) ? err.message : String(err);
  } finally {
    seg?.close();
  }
  r.holders = mappedBy.map(({ pid, writes }) => ({ pid, command: commandLine(pid), registered: registered.has(pid), writes }));
  r.stale = !r.creatorAlive && !r.holders.some((h) => h.writes);
  return r;
}

/** The process table of an instance's runtime segment, or nothing when it cannot be read. */
function runtimeEntries(instance: string): ProcEntry[] {
  let rt: Segment | undefined;
  try {
    rt = Segment.open(segmentName(instance), false);
    return new ProcessTable(rt).entries();
  } catch {
    return [];
  } finally {
    rt?.close();
  }
}

function owners(seg: Segment): OwnerSummary[] {
  const by = new Map<number, OwnerSummary>();
  for (const p of seg.pool.held()) {
    const o = by.get(p.owner) ?? { pid: p.owner, alive: pidAlive(p.owner), packets: 0, bytes: 0, oldestMs: 0 };
    o.packets++;
    o.bytes += p.length;
    o.oldestMs = Math.max(o.oldestMs, p.ageMs);
    by.set(p.owner, o);
  }
  return [...by.values()].sort((a, b) => b.packets - a.packets);
}

/**
 * Every faasflow segment: the files in /dev/shm and every live instance's domain segments. Holders
 * are scanned before this function maps anything, so the calling process is among them only when
 * it maps a segment itself: then it counts, and a segment it writes to is not stale (`down
 * --clean-shm` relies on that).
 */
export function listSegments(entries: (SegmentEntry | string)[] = Segment.list()): SegmentReport[] {
  const targets = entries.map((e) => (typeof e === 'string' ? locateSegment(e) : e));
  const holders = scanHolders(targets, { fds: true });
  return targets.map((e) => {
    const { processes: _p, owners: _o, layout: _l, ...plain } = report(e, holders.get(e.name) ?? [], false);
    return plain;
  });
}

/** One segment by name (a file in /dev/shm or a live instance's domain segment) in detail. */
export function inspectSegment(name: string): SegmentDetail {
  const e = locateSegment(name);
  const holders = scanHolders([e], { fds: true });
  return report(e, holders.get(name) ?? [], true);
}

/**
 * Accepts "x", "faasflow-x", "/faasflow-x", "/dev/shm/faasflow-x", or a domain segment as lsof
 * names its memfd ("/memfd:faasflow-x@d (deleted)"), and returns "/faasflow-x" (or "/faasflow-x@d").
 */
export function normalizeSegmentName(arg: string): string {
  const base = arg.replace(/ \(deleted\)$/, '').replace(/^\/?memfd:/, '').replace(/^\/dev\/shm\//, '').replace(/^\//, '');
  return `/${base.startsWith('faasflow-') ? base : `faasflow-${base}`}`;
}
