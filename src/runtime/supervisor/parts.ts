// What the supervisor's modules share: its components and the few operations that span them.
// The Supervisor (supervisor.ts) owns all of it; deploy, the control socket, domain repair, child
// wiring and replacements each work through this interface and hold no state of their own.
import type { ResolvedConfig } from '../../config/types.js';
import type { Child } from './child.js';
import type { InstancePaths } from '../../common/paths.js';
import type { InstanceStatus } from '../../common/protocol.js';
import type { QueueProcess } from './queue.js';
import type { Containers } from './containers.js';
import type { Deployments, FnEntry } from './deployments.js';
import type { Domains } from './domains.js';
import type { Events } from './events.js';
import type { Gateways } from './gateways.js';
import type { LogFiles } from './logs.js';

/** What the rest of the supervisor asks of the scaler (scaler.ts), which itself works through Parts. */
export interface ReplicaTargets {
  /** The replicas the scaler wants for a function, undefined for a function it does not scale. */
  desired(id: number): number | undefined;
  /** A deploy started `replicas` of a new version: the scaler counts from there. */
  reset(f: FnEntry, replicas: number): void;
}

/** A domain's warm spares, for `ps` and the state file. */
export interface SpareSummary {
  domain: string;
  /** What it keeps: the most any of its functions asks for (functions[].scale.spares). */
  wanted: number;
  /** Ready to take a function. */
  warm: number;
  /** Started, not listening yet. */
  starting: number;
}

/** What the rest of the supervisor asks of the warm spares (spares.ts). */
export interface WarmSpares {
  /** A spare of f's domain made replica `replica` of f, or undefined when none fits. */
  take(f: FnEntry, replica: number): Child | undefined;
  /** Starts what each domain lacks (called with every scaler sample; cheap when nothing is). */
  fill(): void;
  all(): { c: Child; domain: string }[];
  summary(): SpareSummary[];
  stop(): Promise<void>;
}

export interface Parts {
  readonly cfg: ResolvedConfig;
  readonly paths: InstancePaths;
  readonly logs: LogFiles;
  readonly events: Events;
  /** The version of each function that serves (a deploy replaces its entry once the new one is ready). */
  readonly functions: Map<number, FnEntry>;
  readonly deployments: Deployments;
  readonly domains: Domains;
  readonly gateways: Gateways;
  readonly containers: Containers;
  /** Sets the replica counts of elastic functions (functions[].scale); absent when none is. */
  readonly scaler: ReplicaTargets | undefined;
  /** Per domain, processes started as its replicas are, waiting for a function. */
  readonly spares: WarmSpares;
  /** The async queue process, when the config has `async`. */
  readonly queue: QueueProcess;
  readonly phase: InstanceStatus['state'];
  /** A shutdown has begun: nothing new starts. */
  readonly stopping: boolean;
  /** Runs structural changes (deploys, domain rebuilds) one at a time, in order. */
  serially<T>(work: () => Promise<T>): Promise<T>;
  /** Gives every ready gateway the current routing table and waits for each to apply it. */
  pushRoutes(): Promise<void>;
  writeState(): void;
  shutdown(reason: string, code: number, timeoutMs?: number): Promise<void>;
}
