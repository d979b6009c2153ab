// A supervised child as data, in Erlang/OTP terms: what to start, when to restart it, how long it
// gets to stop. The supervisor interprets specs; nothing about a child's behaviour hides in code.
export type RestartType = 'permanent' | 'transient' | 'temporary';
export type ChildRole = 'gateway' | 'container' | 'queue';

export interface ChildSpec {
  /** Unique and stable across restarts: 'gateway', 'fn2.d3.r0'. */
  id: string;
  role: ChildRole;
  functionId: number;
  deployment: number;
  replica: number;
  /**
   * Node module to run, its whole environment, extra node flags, a launcher that starts Node (a
   * container's sandbox: `faasflow-sandbox … --`), and descriptors of the supervisor's it inherits
   * after stdin, stdout, stderr and its channel, each by the environment variable that tells the
   * child its number there (`{ FAASFLOW_SEGMENT_FD: 17 }`: the child finds it as, say, 5).
   */
  start: { module: string; env: Record<string, string>; nodeOptions?: string[]; wrapper?: string[]; fds?: Record<string, number> };
  /** permanent: always restarted; transient: only after an abnormal exit; temporary: never. */
  restart: RestartType;
  /** ms between SIGTERM and SIGKILL when stopping. */
  shutdownMs: number;
  /** ms from spawn to the `ready` message before the start counts as failed. */
  readyTimeoutMs: number;
  /** OTP's significant child: giving up on it shuts the whole instance down. */
  significant: boolean;
}

export interface Intensity {
  /** Restarts allowed within periodMs before giving up (OTP's MaxR / MaxT). */
  maxRestarts: number;
  periodMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
}

export function containerSpecId(functionId: number, deployment: number, replica: number): string {
  return `fn${functionId}.d${deployment}.r${replica}`;
}
