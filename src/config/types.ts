// The configuration after validation and defaults: what every process works from. The user
// writes faasflow.config.ts with defineConfig() (src/config/define.ts); the supervisor writes the
// resolved form to <runtimeDir>/config.json for its children.
import type { ClassSpec } from '../shm/layout.js';
import type { FlowConfig } from './flows.js';
import type { AsyncConfig } from './async.js';
import type { ScheduleConfig } from './schedules.js';

export type { FlowConfig, FlowCall, FlowStep } from './flows.js';

export interface FunctionConfig {
  /** 1..maxFunctions-1; the number in POST /function/:id. */
  id: number;
  name: string;
  /** Absolute path of the handler's TypeScript (or JavaScript) source. */
  handler: string;
  /** Replicas to start with: the fixed count, or `scale.min` for an elastic function. */
  replicas: number;
  /** Elastic replicas (absent: `replicas` is fixed). */
  scale?: ScaleConfig;
  /** Requests one replica works on at once. */
  concurrency: number;
  /** Handler timeout in ms (504 past it). */
  timeoutMs: number;
  /** Private-memory limit in bytes; 0 = none. Passing it restarts the replica gracefully. */
  memoryLimit: number;
  /** Hard memory cap per replica in bytes (cgroup, else RLIMIT_DATA). */
  memoryMax: number;
  /** Most tasks (processes and threads) per replica. */
  pidsMax: number;
  /** Security domain (functions in one share a segment and a user); defaults to the name. */
  domain: string;
  /** User the domain's containers run as under a root supervisor; absent: one derived per domain. */
  user?: string | number;
  env: Record<string, string>;
  /** Callable without a token when gateway.auth is on (set only when true). */
  public?: boolean;
  /** Variables of the supervisor's environment its containers get, by name (absent: none). */
  passEnv?: string[];
  /** Secrets (`faasflow secret create`) its containers can read: ctx.secret(name), files in $FAASFLOW_SECRETS_DIR. */
  secrets?: string[];
}

export interface ScaleConfig {
  /** Replicas kept however idle; 0: no process while idle. */
  min: number;
  max: number;
  /** Requests in flight (queued included) per replica the scaler aims for. */
  target: number;
  /** How long the load must stay lower before replicas are drained. */
  idleMs: number;
  /** Warm spares its domain keeps for it (runtime/supervisor/spares.ts); a domain keeps the most of its functions'. */
  spares: number;
}

/** The most replicas a function may run (what its domain's segment and cgroups are sized for). */
export function replicaCeiling(f: Pick<FunctionConfig, 'replicas' | 'scale'>): number {
  return Math.max(f.replicas, f.scale?.max ?? 0);
}

export interface ResolvedConfig {
  /** Absolute path of the config file, or '' for the built-in defaults. */
  file: string;
  instance: string;
  runtimeDir: string;
  gateway: {
    host: string;
    port: number;
    requestTimeoutMs: number;
    drainDelayMs: number;
    workers: number;
    /** True when `workers` came from this machine's CPUs because the config did not set it. */
    workersFromCpus?: boolean;
    parser: 'light' | 'node';
    /** Bearer tokens required on /function and /flow (absent: false). */
    auth?: boolean;
    /** One JSON line per request in logs/access-<gateway>.log (absent: true). */
    accessLog?: boolean;
    /** Where /healthz, /livez and /metrics are served instead of the public port (absent: there). */
    admin?: { host: string; port: number };
  };
  proxy: { queueLimit: number };
  /**
   * CPUs the gateway and containers are pinned to. One CPU for both halves the 1-connection
   * latency on a 2-vCPU VM (a wake-up on the other CPU costs more than the request's work) and
   * caps throughput at that CPU. Absent: the scheduler decides.
   */
  cpus?: number[];
  /**
   * How long (µs) the gateway, having sent a lone request, and a container, having sent its replies,
   * poll their socket before parking in epoll, when answers have been coming that fast (spin.ts).
   * 0 turns polling off.
   */
  spinMicros: number;
  /**
   * `size`: bytes of packets the instance holds at once, split over the domains (each domain's
   * budget); `waitMs`: how long a request waits for its domain's memory before a 503.
   */
  segment: { size: number; classes: ClassSpec[]; maxFunctions: number; procSlots: number; waitMs: number };
  functions: FunctionConfig[];
  flows: FlowConfig[];
  /**
   * Log files: rotated past maxBytes (0: never), `keep` old ones; a function's output lines cut at
   * maxLine bytes and limited to `rate` bytes a second (0: no limit) after a `burst`.
   */
  logs: { maxBytes: number; keep: number; maxLine: number; rate: number; burst: number };
  supervisor: {
    maxRestarts: number;
    periodMs: number;
    backoffMinMs: number;
    backoffMaxMs: number;
    shutdownTimeoutMs: number;
    /** How long a child may take from spawn to its `ready` message (default 30 s). */
    readyTimeoutMs?: number;
  };
  observe: { shmWarnPercent: number; sampleIntervalMs: number };
  security: { sandbox: boolean; uidBase?: number };
  /** Asynchronous invocation and its queue process; absent: no queue, /async-* answers 404. */
  async?: AsyncConfig;
  /** Async requests fired on cron expressions (the supervisor fires them into the queue). */
  schedules?: ScheduleConfig[];
}
