// Every environment variable faasflow reads, by name: how `faasflow up` tells the supervisor
// where its config is, and how the supervisor tells each child what it is (visible in
// /proc/<pid>/environ for debugging; readiness and routing go over the IPC channels).
export const ENV = {
  /** Absolute path of the resolved config JSON. */
  config: 'FAASFLOW_CONFIG',
  /** Segment name, e.g. /faasflow-default (a container's: its domain segment). */
  segment: 'FAASFLOW_SEGMENT',
  /** A container's descriptor number for its domain segment's memfd (inherited; closed once mapped). */
  segmentFd: 'FAASFLOW_SEGMENT_FD',
  functionId: 'FAASFLOW_FUNCTION_ID',
  deployment: 'FAASFLOW_DEPLOYMENT',
  replica: 'FAASFLOW_REPLICA',
  /** Absolute path of the bundled handler module (.mjs) to import. */
  handler: 'FAASFLOW_HANDLER',
  concurrency: 'FAASFLOW_CONCURRENCY',
  timeoutMs: 'FAASFLOW_TIMEOUT_MS',
  /** Comma-separated CPU numbers to pin to (config `cpus`). */
  cpus: 'FAASFLOW_CPUS',
  /** Microseconds a link polls for an expected answer before parking in epoll (config `spinMicros`). */
  spinMicros: 'FAASFLOW_SPIN_US',
  /** Which gateway (0 … workers − 1) a gateway process is. */
  gatewayIndex: 'FAASFLOW_GATEWAY_INDEX',
  /** JSON list of the domain segments a gateway maps at start. */
  domains: 'FAASFLOW_DOMAINS',
  /** The port the first gateway got: the others share it. */
  port: 'FAASFLOW_PORT',
  /** The listening socket the supervisor hands a gateway (its file descriptor number there). */
  listenFd: 'FAASFLOW_LISTEN_FD',
  /** The admin listener (gateway.admin) every gateway accepts on: one socket, shared. */
  adminFd: 'FAASFLOW_ADMIN_FD',
  /** A container's stats record in its domain segment. */
  statsSlot: 'FAASFLOW_STATS_SLOT',
  /** '1': a sandboxed container waits for its handler's source over IPC instead of reading the file. */
  handlerIpc: 'FAASFLOW_HANDLER_IPC',
  /** '1': a warm spare of its domain: it learns its function from the supervisor's `adopt` message (container/identity.ts). */
  spare: 'FAASFLOW_SPARE',
  /** A container's message channel to the supervisor (its descriptor number there; runtime/channel.ts). */
  channelFd: 'FAASFLOW_CHANNEL_FD',
  /** A container's descriptor channel: the supervisor sends its links there (native/fdpass.cc). */
  linksFd: 'FAASFLOW_LINKS_FD',
  /** What the sandbox launcher makes the container's NODE_OPTIONS (it drops any other). */
  nodeOptions: 'FAASFLOW_NODE_OPTIONS',
  /** Set by the sandbox launcher: the isolation it applied. */
  sandbox: 'FAASFLOW_SANDBOX',
  /** '1': the supervisor also writes every log line to its standard output (`up --foreground`). */
  foreground: 'FAASFLOW_FOREGROUND',
  /** 'json': those lines as JSON objects. */
  logFormat: 'FAASFLOW_LOG_FORMAT',
  /** The instance directory itself, instead of <base>/faasflow-<uid>/<instance>. */
  runtimeDir: 'FAASFLOW_RUNTIME_DIR',
  /** The instance's state directory itself (deployments, secrets), instead of the XDG or /var/lib one. */
  stateDir: 'FAASFLOW_STATE_DIR',
  /** A container's copy of its function's secrets (readable by its domain only): ctx.secret reads there. */
  secretsDir: 'FAASFLOW_SECRETS_DIR',
  /** The supervisor's type-checker worker: its heap limit in MiB (supervisor/checker.ts has the default). */
  checkerHeapMb: 'FAASFLOW_CHECKER_HEAP_MB',
  /** …and how long one check may take, in ms. */
  checkerTimeoutMs: 'FAASFLOW_CHECKER_TIMEOUT_MS',
  /** The instance every command talks to when --instance is not given. */
  instance: 'FAASFLOW_INSTANCE',
} as const;

/**
 * Long enough for a small request's round trip through a container (~60 µs on a 2-vCPU VM),
 * short enough that a wait that outlasts it wastes little.
 */
export const DEFAULT_SPIN_MICROS = 200;

/** Exit code a child uses for "permanent failure, do not restart" (s6's convention is 100). */
export const EXIT_PERMANENT = 100;
