// How the supervisor tells a child what it is: environment variables (visible in /proc/<pid>/environ
// for debugging) plus an IPC channel for readiness and routing messages.
export const ENV = {
  /** Absolute path of the resolved config JSON. */
  config: 'FAASFLOW_CONFIG',
  /** Segment name, e.g. /faasflow-default. */
  segment: 'FAASFLOW_SEGMENT',
  /** Unix socket the gateway's proxy listens on for containers. */
  proxySocket: 'FAASFLOW_PROXY_SOCKET',
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
} as const;

/**
 * Long enough for a small request's round trip through a container (~60 µs on a 2-vCPU VM),
 * short enough that a wait that outlasts it wastes little.
 */
export const DEFAULT_SPIN_MICROS = 200;

/** Exit code a child uses for "permanent failure, do not restart" (s6's convention is 100). */
export const EXIT_PERMANENT = 100;
