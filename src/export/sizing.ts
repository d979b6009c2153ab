// How much memory one instance needs, from its resolved config alone: the bytes of its segments
// (the runtime segment, what a pod's /dev/shm must hold, and the domain segments, memfds charged to
// the pod's memory) and the memory limit that covers the segments plus every process. Pure, so the figures in an exported manifest can be checked without starting anything.
import { replicaCeiling, type ResolvedConfig } from '../config/types.js';
import { domainBudget, domainStatsSlots } from '../config/segment.js';
import { MIN_DOMAIN_BYTES, computeLayout, metadataSize } from '../shm/layout.js';
import { holdable } from '../shm/space.js';

const MiB = 1024 ** 2;
const PAGE = 4096;

/** A domain segment is never smaller than this (the supervisor sizes them with the same constant). */
export { MIN_DOMAIN_BYTES };

/**
 * Per-process figures for the memory limit, each rounded up from what `faasflow ps --json` showed
 * for a real instance on this machine (Node 20, after 5 s of 1 KiB POSTs at 32 connections):
 * PRIVATE is the anonymous memory only that process uses; the code Node and its libraries map
 * from files is shared by all of them and charged to the pod's cgroup once.
 */
export const PROCESS_MEMORY = {
  /** Node's binary and libraries, resident once for all processes (measured RssFile: 45 MiB). */
  sharedCode: 64 * MiB,
  /** `faasflow up --foreground`, the pod's main process (measured: 35 MiB). */
  cli: 48 * MiB,
  /** The supervisor (measured: 27-35 MiB). */
  supervisor: 48 * MiB,
  /** One gateway under load (measured: 38 MiB); request bodies live in the segment, not here. */
  gateway: 64 * MiB,
  /** One container of a function without a memoryLimit, under load (measured: 40-46 MiB). */
  container: 64 * MiB,
} as const;

export interface SegmentSizes {
  /** The runtime segment: process table and the gateways' stats. */
  runtime: number;
  /** Each domain's budget (all domains get the same share of segment.size). */
  perDomain: number;
  domains: string[];
  /**
   * What each domain segment can hold, in the order of `domains`: its tables and its budget. Its
   * memfd is several times larger (each size class reserves packets for the whole budget), but
   * memory backs only the pages written, and the budget bounds the packets held at once.
   */
  domainBytes: number[];
  /**
   * What the instance puts in /dev/shm: the runtime segment. The domain segments are memfds, in
   * no filesystem: their pages count against the pod's memory limit, not its /dev/shm.
   */
  shm: number;
  /** Everything the instance's segments can hold, /dev/shm and memfds. */
  total: number;
}

const pageAlign = (n: number) => Math.ceil(n / PAGE) * PAGE;

/** The security domains the config's functions form, in the order the supervisor creates them. */
export function domainsOf(cfg: ResolvedConfig): string[] {
  return [...new Set(cfg.functions.map((f) => f.domain))];
}

/**
 * The bytes the segments of an instance started from `cfg` can hold, as the supervisor makes them:
 * a runtime segment sized exactly for its tables (procSlots processes, one block of function stats
 * per gateway) and one domain segment per domain, holding its tables and a budget of an even share
 * of `segment.size`, at least MIN_DOMAIN_BYTES each. Page-aligned, because tmpfs allocates whole
 * pages. A domain that `faasflow deploy` adds later gets another share on top: not counted here.
 */
export function segmentBytes(cfg: ResolvedConfig): SegmentSizes {
  const procSlots = cfg.segment.procSlots;
  const runtime = metadataSize({ kind: 'runtime', maxFunctions: cfg.segment.maxFunctions, fnWriters: cfg.gateway.workers, procSlots, statsSlots: procSlots });
  const domains = domainsOf(cfg);
  const perDomain = domains.length ? domainBudget(cfg.segment.size, domains.length) : 0;
  const domainBytes = domains.map((d) => {
    const replicas = cfg.functions.filter((f) => f.domain === d).reduce((a, f) => a + replicaCeiling(f), 0);
    const l = computeLayout({ kind: 'domain', budget: perDomain, classes: cfg.segment.classes, maxFunctions: 0, fnWriters: 0, procSlots: 0, statsSlots: domainStatsSlots(replicas) });
    return pageAlign(holdable(l));
  });
  return { runtime, perDomain, domains, domainBytes, shm: pageAlign(runtime), total: pageAlign(runtime) + domainBytes.reduce((a, b) => a + b, 0) };
}

export interface MemoryBudget {
  /** Every segment, whole: a memfd's pages and tmpfs pages in a memory-backed emptyDir count against the pod's limit. */
  segments: number;
  sharedCode: number;
  cli: number;
  supervisor: number;
  gateways: number;
  containers: number;
  /** The sum, rounded up to a MiB. */
  total: number;
}

/**
 * The memory limit for a pod that runs one instance of `cfg`: the segments in full (a pod that
 * fills them must not be OOM-killed for it) plus every process. Each function counts one replica
 * more than it has, because a replica over its memoryLimit is replaced by starting the new one
 * first; a function with a memoryLimit counts that per replica instead of the measured figure.
 */
export function memoryBudget(cfg: ResolvedConfig): MemoryBudget {
  const segments = segmentBytes(cfg).total;
  const gateways = cfg.gateway.workers * PROCESS_MEMORY.gateway;
  const containers = cfg.functions.reduce((a, f) => a + (replicaCeiling(f) + 1) * Math.max(PROCESS_MEMORY.container, f.memoryLimit), 0);
  const sum = segments + PROCESS_MEMORY.sharedCode + PROCESS_MEMORY.cli + PROCESS_MEMORY.supervisor + gateways + containers;
  return { segments, sharedCode: PROCESS_MEMORY.sharedCode, cli: PROCESS_MEMORY.cli, supervisor: PROCESS_MEMORY.supervisor, gateways, containers, total: Math.ceil(sum / MiB) * MiB };
}

/** A Kubernetes quantity in whole MiB ("1090Mi"): exact, and what a reader compares at a glance. */
export function mebibytes(bytes: number): string {
  return `${Math.ceil(bytes / MiB)}Mi`;
}
