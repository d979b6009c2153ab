// The data the harness passes around: what to measure (options, cells), what was measured
// (cell results, summaries) and the lifecycle events the console view renders.

/**
 * `cluster` is the floor as a Node cluster of as many workers as faasflow runs gateways (what a
 * user would run on a machine with more cores); `faasflow-nospin` is faasflow with
 * `spinMicros: 0`, for measuring what polling buys, on request only; `faasflow-nodeparser` is
 * faasflow with `gateway.parser: 'node'`, for what the light parser buys, on request only;
 * `faasflow-noaccesslog` is faasflow with `gateway.accessLog: false`, for what the access log costs;
 * `baseline` is faasflow from
 * another checkout (`--baseline DIR`, a previous release), to show a change costs nothing.
 */
export const SETUP_NAMES = ['floor', 'cluster', 'copy', 'faasflow', 'faasflow-nospin', 'faasflow-nodeparser', 'faasflow-noaccesslog', 'baseline'] as const;
export type SetupName = (typeof SETUP_NAMES)[number];

export interface BenchOptions {
  /** Request body sizes in bytes. */
  sizes: number[];
  /** Connection counts: 1 measures latency, many measure throughput. */
  connections: number[];
  /** Seconds each cell is measured for. */
  duration: number;
  /** Seconds of load before each measurement, discarded. */
  warmup: number;
  /** Seconds of 1 KiB × 32-connection load on each setup before the first cell, discarded: Node's
   * HTTP code runs several times slower until V8 has optimised it (thousands of requests). */
  prime: number;
  rounds: number;
  setups: SetupName[];
  quick: boolean;
  /** Directory the JSON result goes to. */
  outDir: string;
  /** Markdown file whose results block is rewritten, or '' for none. */
  markdown: string;
  /** Directory for V8 CPU profiles of every server process (not the load generator), or ''. */
  profileDir: string;
  /** CPUs faasflow's gateway and containers are pinned to (config `cpus`), or [] for none. */
  cpus: number[];
  /** faasflow's `spinMicros` (µs a link polls for an answer), or null for the product's default. */
  spinMicros: number | null;
  /** How the run was started, recorded with the results. */
  command: string;
  /** After the closed-loop cells, one open-loop run of every setup at a fixed rate (rate.ts). */
  fixedRate: boolean;
  /** A built checkout of another faasflow version run as the `baseline` setup, or ''. */
  baseline: string;
}

/** Latency in microseconds, from every 2xx response of one measurement. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** CPU time during one measurement, in µs. */
export interface CellCpu {
  /** On-CPU time of every process of the setup. */
  serverUs: number;
  /** Time those processes were runnable but waited for a CPU: other work in the way. */
  serverWaitUs: number;
  /** On-CPU time of the load generator. */
  loadUs: number;
  /** On-CPU time per kind of process (faasflow: gateway, container, supervisor). */
  byRole?: Record<string, number>;
}

/** The gateways' garbage collection during one measurement. */
export interface CellGc {
  /** Share of wall time one gateway spent in GC pauses, %. */
  percent: number;
  maxPauseMs: number;
  count: number;
}

/** One measurement: one setup, one body size, one connection count, one round. */
export interface CellResult {
  setup: SetupName;
  size: number;
  connections: number;
  round: number;
  /** Seconds the measurement actually ran. */
  seconds: number;
  latency: LatencySummary;
  /** 2xx responses per second. */
  rps: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  cpu: CellCpu;
  gc?: CellGc;
  /**
   * faasflow: bytes of the packets held over the body bytes they carry, from samples of its
   * domain segments every 100 ms during the cell (1 means no packet bigger than its body).
   */
  heldPerByte?: number;
}

/** A cell's rounds folded together: medians across rounds, max of maxima. */
export interface CellSummary {
  setup: SetupName;
  size: number;
  connections: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  rps: number;
  /** Setup CPU time per request, µs (median across rounds). */
  cpuPerRequest: number;
  /** The same per kind of process, when the setup has several. */
  cpuPerRequestByRole?: Record<string, number>;
  /** Gateway GC: median share of wall time, longest pause of any round. */
  gc?: { percent: number; maxPauseMs: number };
  /** Lowest and highest per-round p50, to show how much rounds disagree. */
  p50Range: [number, number];
  failures: number;
  /** Non-2xx answers in all rounds together. */
  non2xx: number;
  /** Median across rounds of CellResult.heldPerByte, when sampled. */
  heldPerByte?: number;
}

export interface TargetResult {
  id: string;
  description: string;
  /** Measured ratio, or null when a cell it needs was not measured. */
  ratio: number | null;
  limit: number;
  /** 'max': ratio must be ≤ limit; 'min': ratio must be ≥ limit. */
  kind: 'max' | 'min';
  met: boolean | null;
  /** How `ratio` reads: a ratio, a percentage, milliseconds, a count. */
  unit?: '×' | '%' | 'ms' | 'n';
}

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  os: string;
  /** 1/5/15-minute load averages just before the first setup started: anything well above 0 means
   * other work shared the cores and the numbers are noisier than they look. */
  loadBefore: number[];
}

import type { ProfileSummary } from './profile.js';

export interface BenchResult {
  date: string;
  machine: Machine;
  options: BenchOptions;
  cells: CellResult[];
  summary: CellSummary[];
  targets: TargetResult[];
  /** Open-loop run at 1 KiB: every setup at one fixed request rate, latency counted from the intended send time. */
  fixedRate?: FixedRateResult;
  /** The same at every size it was run at (1 KiB, 1 MiB, 5 MiB when measured). */
  fixedRates?: FixedRateResult[];
  /** With --profile: where each server process spent its CPU time. */
  profiles?: ProfileSummary[];
}

export type BenchEvent =
  | { type: 'setup-start'; setup: SetupName }
  | { type: 'setup-ready'; setup: SetupName; url: string; ms: number }
  | { type: 'setup-primed'; setup: SetupName; requests: number; seconds: number }
  | { type: 'setup-stop'; setup: SetupName }
  | { type: 'cell-start'; setup: SetupName; size: number; connections: number; round: number; index: number; total: number }
  | { type: 'cell-done'; cell: CellResult }
  | { type: 'rate-start'; setup: SetupName; rate: number; connections: number; size: number }
  | { type: 'rate-done'; cell: FixedRateCell }
  | { type: 'warning'; message: string };

/** One setup at the fixed rate: latencies in µs from when each request was due. */
export interface FixedRateCell {
  setup: SetupName;
  intended: number;
  answered: number;
  failures: number;
  achieved: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export interface FixedRateResult {
  size: number;
  connections: number;
  /** Requests per second every setup was offered. */
  rate: number;
  seconds: number;
  cells: FixedRateCell[];
}
