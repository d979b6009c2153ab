// Messages between the supervisor and its children: a gateway's over Node's IPC channel ('advanced'
// serialisation), a container's over a channel of faasflow's own (channel.ts), which bounds and
// checks what a container's code can send. Frames on the request path are in src/shm/frame.ts.
import type { ContainerLinkMessage } from './links.js';
import type { QueueStats } from '../common/queue-stats.js';

/** A route: requests for `id` go to the containers of `deployment`. */
export interface Route {
  id: number;
  name: string;
  deployment: number;
  timeoutMs: number;
  /** Requests one replica works on at once; defaults to the config's value for the id, else 1. */
  concurrency?: number;
  /** The function's security domain (index of its domain segment): where its packets go. */
  domain?: number;
  /**
   * Set when every replica of the deployment was given up on (crash loop): requests get 503 with
   * this reason at once instead of waiting in the queue for a replica that will not come.
   */
  unavailable?: string;
  /** An elastic function at `scale.min: 0`: no ready replica is no reason for /healthz to fail (its requests wait for one). */
  scalesToZero?: boolean;
}

/**
 * What a container may send its supervisor, over its own channel (channel.ts), each at most once in
 * its life. Its handler's code runs in the same process, so these are checked field by field at one
 * place (supervisor/container-messages.ts) before anything acts on them.
 */
export type ContainerMessage =
  /**
   * Sent first thing, once the child listens for messages: only then are links and a sandboxed
   * container's handler sent to it (a message that arrives earlier has nobody to hear it).
   */
  | { type: 'listening'; pid: number }
  /** Sent once it can do its job: handler loaded, a gateway linked. `sandbox`: the isolation its launcher applied ("uid,landlock:7", "none"). */
  | { type: 'ready'; pid: number; sandbox?: string; port?: undefined }
  /** Sent by a child that cannot start, with the reason, before it exits. */
  | { type: 'failed'; pid: number; message: string }
  /**
   * It can still serve but should be replaced (handlers that outlived their timeout hold packets
   * until they settle); replaced like a replica over its memoryLimit.
   */
  | { type: 'replace-me'; pid: number; reason: string };

/** What a gateway sends its supervisor, over Node's IPC channel (gateways are trusted). */
export type GatewayMessage =
  | { type: 'listening'; pid: number }
  /** `port`: the HTTP port it listens on (config port 0 = any). */
  | { type: 'ready'; pid: number; port?: number; sandbox?: undefined }
  | { type: 'failed'; pid: number; message: string }
  /** After applying a routes message. */
  | { type: 'routes-applied'; version: number }
  /**
   * A container let a request pass the gateway's backstop, which only happens when its event loop
   * is blocked (its own timeout would have answered 504): kill it so the restart policy replaces it.
   */
  | { type: 'replica-stuck'; pid: number; functionId: number; reason: string }
  /**
   * A container broke the link protocol (a malformed or forged frame, no hello) and the gateway
   * dropped its link, or (`closed`) it closed its link while serving: replace it, or it stays
   * `ready` while that gateway has nowhere to route its requests.
   */
  | { type: 'replica-bad'; pid: number; functionId: number; reason: string; closed?: boolean }
  /**
   * A request waits in this gateway for function `functionId`, which has no replica linked to it
   * (scaled to zero): the scaler decides at once instead of at its next sample. At most one per
   * function every 50 ms; the supervisor checks it and bounds it again (scaler.ts wake).
   */
  | { type: 'demand'; functionId: number }
  /** The async queue process's depth and counters, every tick, for `ps` (it speaks as a gateway does). */
  | { type: 'queue-stats'; pid: number; stats: QueueStats };

export type ChildMessage = ContainerMessage | GatewayMessage;

/**
 * A warm spare (FAASFLOW_SPARE=1) becomes a replica: what a replica's environment tells it
 * (container/identity.ts). Its handler and its links follow as they do for any replica.
 */
export interface AdoptMessage {
  type: 'adopt';
  functionId: number;
  deployment: number;
  replica: number;
  /** Its stats record in the domain segment, -1 for none. */
  statsSlot: number;
  concurrency: number;
  timeoutMs: number;
  /** The bundle's path: read by an unsandboxed one, named in errors by a sandboxed one (its source comes by `handler`). */
  handler: string;
}

/** Supervisor → a container, over its channel. Links come with their descriptor (links.ts). */
export type ToContainer =
  /** Its handler's bundled source (a sandboxed container cannot read the runtime directory). */
  | { type: 'handler'; name: string; source: string }
  | AdoptMessage
  | ContainerLinkMessage
  /** Stop taking work, finish in-flight work, exit 0. */
  | { type: 'drain' };

/** Supervisor → a gateway, over Node's IPC channel. */
export type ToGateway =
  /** The full routing table, and every domain segment to map; replaces the previous one. */
  | { type: 'routes'; version: number; routes: Route[]; domains?: { index: number; name: string; segment: string }[] }
  | { type: 'drain' };

export type SupervisorMessage = ToContainer | ToGateway;
