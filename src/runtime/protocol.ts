// Messages on the IPC channel between the supervisor and its children (Node's 'advanced'
// serialisation through execa's ipc option). Frames on the request path are in src/shm/frame.ts.

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
}

export type ChildMessage =
  /**
   * Sent first thing, once the child listens for messages: only then are sockets (links) and a
   * sandboxed container's handler sent to it (a message that arrives earlier has nobody to hear it).
   */
  | { type: 'listening'; pid: number }
  /** Sent once the child can do its job (listening, connected, handler loaded). */
  | { type: 'ready'; pid: number; /** gateway: the HTTP port it listens on (config port 0 = any) */ port?: number; /** container: the isolation it runs under, as its sandbox launcher applied it ("uid,landlock:7", "none") */ sandbox?: string }
  /** Sent by a child that cannot start, with the reason, before it exits. */
  | { type: 'failed'; pid: number; message: string }
  /** Gateway → supervisor after applying a routes message. */
  | { type: 'routes-applied'; version: number }
  /**
   * Gateway → supervisor: a container let a request pass the gateway's backstop, which only
   * happens when its event loop is blocked (its own timeout would have answered 504): kill it so
   * the restart policy replaces it.
   */
  | { type: 'replica-stuck'; pid: number; functionId: number; reason: string }
  /**
   * Gateway → supervisor: a container broke the link protocol (a malformed or forged frame, no
   * hello) and the gateway dropped its link, or (`closed`) it closed its link while serving: replace
   * it, or it stays `ready` while that gateway has nowhere to route its requests.
   */
  | { type: 'replica-bad'; pid: number; functionId: number; reason: string; closed?: boolean }
  /**
   * Container → supervisor: it can still serve but should be replaced (handlers that outlived
   * their timeout hold packets until they settle); replaced like a replica over its memoryLimit.
   */
  | { type: 'replace-me'; pid: number; reason: string };

export type SupervisorMessage =
  /** Supervisor → gateway: the full routing table, and every domain segment to map; replaces the previous one. */
  | { type: 'routes'; version: number; routes: Route[]; domains?: { index: number; name: string; segment: string }[] }
  /** Supervisor → any child: stop taking work, finish in-flight work, exit 0. */
  | { type: 'drain' }
  /** Supervisor → a sandboxed container: its handler's bundled source (it cannot read the runtime directory). */
  | { type: 'handler'; name: string; source: string };
