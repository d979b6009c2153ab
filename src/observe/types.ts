// The shape of a snapshot: what `top --once --json` prints (each field is documented in the README).
import type { ClassUsage, DomainMemory, ProcEntry } from '../shm/index.js';
import type { MemorySample } from './memory.js';
import type { TrendVerdict } from './trend.js';
import type { Holder } from './segments.js';
import type { QueueStats } from '../common/queue-stats.js';

/** Latency in µs. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

export interface StageLatency {
  /** Request received → reply written (gateway). */
  total: LatencySummary;
  /** Waiting for a free replica. */
  queue: LatencySummary;
  /** Descriptor sent → reply descriptor received. */
  container: LatencySummary;
  /** Reply descriptor received → reply written to the client (the response closed). */
  reply: LatencySummary;
  /** The handler call inside the containers (their own records: live replicas only, reset on restart). */
  handler: LatencySummary;
}

export interface FunctionSnapshot {
  id: number;
  name: string | null;
  requests: number;
  /** Requests per second since the previous snapshot; null on the first. */
  rps: number | null;
  status: { '2xx': number; '4xx': number; '5xx': number };
  /** 4xx + 5xx. */
  errors: number;
  /** 503s: packet memory or queue exhausted. */
  rejected: number;
  /** Requests (and calls, flow steps) that found their domain short of packet memory and waited. */
  memoryWaits: number;
  /** Of those and the ones that could never fit, how many were refused for memory (503, 413). */
  memoryRefused: number;
  /** 504s: handler timed out. */
  timeouts: number;
  inflight: number;
  queued: number;
  /** Its container processes that serve (ready), and those that should (starting or ready): the scaler's count while it acts. */
  replicas: number;
  replicasDesired: number;
  bytesIn: number;
  bytesOut: number;
  /** Since the instance started. */
  latencyUs: StageLatency;
  /** Requests completed since the previous snapshot only; null on the first. */
  recentLatencyUs: StageLatency | null;
}

/** One step's calls within a flow (a parallel group has one per branch, same `index`). */
export interface FlowStepSnapshot {
  /** The step's position in the flow, from 0. */
  index: number;
  /** Its row in the stats table (runtime segment). */
  row: number;
  /** Its function's name and id. */
  name: string;
  functionId: number;
  /** A branch of a parallel group. */
  parallel: boolean;
  requests: number;
  rps: number | null;
  status: { '2xx': number; '4xx': number; '5xx': number };
  errors: number;
  /** Sent to the container → its reply (or failure) at the gateway, µs. */
  latencyUs: LatencySummary;
  recentLatencyUs: LatencySummary | null;
}

export interface FlowSnapshot {
  name: string;
  /** Its row in the stats table (runtime segment). */
  row: number;
  requests: number;
  rps: number | null;
  status: { '2xx': number; '4xx': number; '5xx': number };
  errors: number;
  inflight: number;
  bytesIn: number;
  bytesOut: number;
  /** Packets the gateway copied for it (into another domain), and their bytes. */
  copies: number;
  copiedBytes: number;
  /** Request received → last step's reply written (or the error), µs. */
  latencyUs: LatencySummary;
  recentLatencyUs: LatencySummary | null;
  steps: FlowStepSnapshot[];
}

export interface PoolClassSnapshot extends ClassUsage {
  usedPercent: number;
}

export interface ProcessSnapshot {
  slot: number;
  pid: number;
  role: ProcEntry['role'];
  functionId: number;
  function: string | null;
  replica: number;
  /** A container's (or a warm spare's) security domain; null for other roles. */
  domain: string | null;
  /** The isolation a container runs under (`uid+landlock`, `landlock`, `uid`, `none`); null for other roles. */
  sandbox: string | null;
  state: ProcEntry['state'];
  restarts: number;
  /**
   * Why this replica's previous process ended, as the supervisor recorded it (state.json's
   * `lastExit`: "killed by SIGKILL; restart 1/5 in 100 ms", "exited with code 1; …"); null when
   * it never exited or there is no state file to read (`/metrics`, a runtime dir not found).
   */
  lastExit: string | null;
  /** The async queue process's depth and counters as it last reported them (the queue process only). */
  queue?: QueueStats;
  uptimeS: number;
  heartbeatAgeS: number;
  alive: boolean;
  /** % of one core since the previous snapshot (null on the first). */
  cpuPercent: number | null;
  /** Latest full memory sample (taken every `fullSampleMs`); null when /proc is unreadable. */
  memory: Omit<MemorySample, 'pid'> | null;
  /** Private memory over the recent samples. */
  trend: TrendVerdict;
  leak: boolean;
  /** Work done by this process (its own stats record). */
  requests: number;
  errors: number;
  /** Containers: time in the handler, µs, since this process started. */
  handlerUs: LatencySummary;
  /**
   * Polling for answers (config `spinMicros`): spins that got their answer, spins that ran out,
   * waits that went straight to epoll, CPU seconds spent spinning, and that as % of one core
   * since the previous snapshot (null on the first). Part of `cpuPercent`, not on top of it.
   */
  polling: { answered: number; timedOut: number; parked: number; seconds: number; percent: number | null };
  /**
   * Its output as the supervisor logged it, since this replica first started (restarts carry it
   * on): lines `cut` at `logs.maxLine`, lines `dropped` (over `logs.rate`, or the log file's write
   * queue full).
   */
  logs: { cut: number; dropped: number };
}

export interface ObserveEvent {
  at: string;
  level: 'error' | 'warn' | 'info';
  text: string;
}

export interface SegmentInfo {
  name: string;
  path: string;
  size: number;
  touched: number;
  layoutVersion: number;
  creatorPid: number;
  creatorAlive: boolean;
  createdAt: string;
  uptimeS: number;
  /** Processes mapping the segment (this one excluded); refreshed every `holdersMs`. */
  holders: Holder[];
}

export interface DomainSnapshot {
  index: number;
  name: string;
  /** What its live containers report (`uid+landlock`, `landlock`, `uid`, `none`); null with none running. */
  enforcement: string | null;
  packetsInUse: number;
  /**
   * Its packet memory: `budget` (its share of segment.size), `held` (bytes of the packets held
   * now), `free`, `usedPercent`, and `waits` / `refusals` (allocations that waited for memory, and
   * that were refused for it, by the gateways and its containers).
   */
  memory: DomainMemory & { usedPercent: number };
  /** Its packet pool per size class. */
  pool: PoolClassSnapshot[];
  /** Its segment (size, touched, holders). */
  segment: SegmentInfo;
}

export interface Snapshot {
  schema: 1;
  takenAt: string;
  /** Seconds since the previous snapshot; null on the first. */
  intervalS: number | null;
  instance: string;
  status: 'running' | 'waiting';
  /** Why status is 'waiting'. */
  reason: string | null;
  /** The runtime segment (process table and stats). */
  segment: SegmentInfo | null;
  /** Each security domain and its segment. */
  domains: DomainSnapshot[];
  shm: { path: string; total: number; used: number; available: number; usedPercent: number; warnPercent: number; warn: boolean };
  functions: FunctionSnapshot[];
  /** Each flow of the config, with its steps. */
  flows: FlowSnapshot[];
  /** Every domain's pool added up per size class. */
  pool: PoolClassSnapshot[];
  processes: ProcessSnapshot[];
  events: ObserveEvent[];
}
