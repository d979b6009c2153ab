// The control socket's language: one JSON request per connection, answered by JSON lines
// (events while the work goes on, then one result or error). `up`, `deploy` and `down` render
// the events; `ps` reads the status.
import type { QueueStats } from './queue-stats.js';
import type { ErrorCode } from './errors.js';

export type StepName = 'segment' | 'handlers' | 'gateway' | 'containers' | 'health';
export const SUPERVISOR_STEPS: StepName[] = ['segment', 'handlers', 'gateway', 'containers', 'health'];

export type ChildState = 'starting' | 'ready' | 'draining' | 'stopped' | 'crashed' | 'failed';

export type SupervisorEvent = { at: number } & (
  | { kind: 'step'; step: StepName; status: 'start' | 'done' | 'warn' | 'failed'; message: string }
  | { kind: 'child'; id: string; pid: number; state: ChildState; message: string }
  | { kind: 'info'; message: string }
  /** Startup finished: the instance serves. */
  | { kind: 'running'; port: number; host: string }
  /** Startup or the instance failed; the supervisor is shutting down. */
  | { kind: 'fatal'; message: string }
  /** A stop began: how long it may take at most, and what it waits for (config/stop.ts). */
  | { kind: 'stopping'; waitMs: number; message: string }
  | { kind: 'stopped' }
);

export interface DeployRequest {
  id: number;
  name?: string;
  replicas?: number;
  /** The handler source the user named (kept for `ps` and the state file). */
  source: string;
  /** The bundle built by the CLI (checkHandlersCached + bundleHandler) inside the runtime directory. */
  bundle: string;
}

export interface DeployResult {
  id: number;
  name: string;
  deployment: number;
  previous: number | null;
  replicas: number;
  stopped: number[];
  /** The function this deploy replaced under the id when it was another one (another handler file). */
  replaced?: { name: string; source: string };
  /** Flows whose steps call this id: they call the new version from now on. */
  flows: string[];
}

export type ControlRequest = { cmd: 'events' } | { cmd: 'status' } | { cmd: 'deploy'; fn: DeployRequest } | { cmd: 'check'; sources: string[]; cwd: string } | { cmd: 'down'; timeoutMs?: number };

/**
 * The answer to "check" (the supervisor's warm type checker): a pass, with every other file the
 * check read; or no answer, and why (the CLI then checks itself). Problems found are an error reply.
 */
export type CheckAnswer = { checked: true; deps: string[] } | { checked: false; reason: string };

export type ControlReply =
  | { type: 'event'; event: SupervisorEvent }
  | { type: 'result'; result: unknown }
  | { type: 'error'; code: ErrorCode; message: string };

export interface MemoryFigures {
  rss: number;
  pss: number;
  privateBytes: number;
  sharedBytes: number;
  shmBytes: number;
}

export interface ChildStatus {
  id: string;
  role: 'supervisor' | 'gateway' | 'container' | 'queue';
  functionId: number;
  functionName: string;
  deployment: number;
  replica: number;
  pid: number;
  state: ChildState;
  startedAt: number;
  /**
   * The kernel's start time of `pid` (clock ticks since boot, /proc/<pid>/stat): `up` and `down`
   * after a dead supervisor signal a recorded pid only while it is still this process.
   */
  startTime?: number;
  restarts: number;
  lastExit: string;
  memory: MemoryFigures | null;
  /** A container's security domain and the isolation its launcher applied (`uid+landlock`, `landlock`, `uid`, `none`). */
  domain?: string;
  sandbox?: string;
  /** The async queue process's depth and counters, as it last reported them. */
  queue?: QueueStats;
  /** A warm spare of `domain` (functions[].scale.spares): started as its replicas are, no function yet. */
  spare?: boolean;
}

export interface FunctionStatus {
  id: number;
  name: string;
  source: string;
  bundle: string;
  deployment: number;
  /** Replicas it started with (fixed, or scale.min for an elastic one). */
  replicas: number;
  /** Replicas it should run now: the fixed count, or what the scaler decided. */
  desired: number;
  /** Replicas of the serving version that are ready (serving). */
  ready: number;
  /** Its elastic range, when it has one (functions[].scale). */
  scale?: { min: number; max: number; target: number; idleMs: number };
  origin: 'config' | 'deploy';
}

export interface InstanceStatus {
  instance: string;
  supervisorPid: number;
  startedAt: number;
  state: 'starting' | 'running' | 'stopping';
  host: string;
  port: number;
  segment: string;
  runtimeDir: string;
  configFile: string;
  children: ChildStatus[];
  functions: FunctionStatus[];
  /** Each domain that keeps warm spares: how many it keeps, how many are warm and starting. */
  spares?: { domain: string; wanted: number; warm: number; starting: number }[];
  /** The longest a stop may take and what it waits for (config/stop.ts): `down` waits that long. */
  stop?: { waitMs: number; message: string };
}
