// One supervised process: spawn (IPC channel), readiness, output to the log, stop (TERM, then
// KILL after the spec's shutdown time). What happens after an exit is the supervisor's call.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import type net from 'node:net';
import { startTime } from '../../common/procs.js';
import type { ChildState } from '../../common/protocol.js';
import type { ChildMessage, SupervisorMessage } from '../protocol.js';
import type { ChildExit } from './policy.js';
import type { ChildSpec } from './spec.js';

type Proc = ChildProcess;

/**
 * Children still running when the supervisor exits on its own (an exception it did not survive)
 * get SIGTERM on the way out; a SIGKILLed supervisor is covered by the children exiting when
 * their IPC channel disconnects. Each child makes itself a process-group leader first thing
 * (runtime/child.ts ownProcessGroup), so what a handler starts is in that group and is killed
 * with it when the child exits; after a SIGKILLed supervisor, the next `up` or `down` kills what
 * is left (control/instance.ts).
 */
const live = new Set<Proc>();
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGTERM');
});

/**
 * Every child's first descriptors: stdin, stdout, stderr, the IPC channel. A spec's own `fds`
 * follow them, from descriptor SPEC_FDS_FROM on: specs.ts tells each child its numbers from that.
 */
const STDIO = ['ignore', 'pipe', 'pipe', 'ipc'] as const;
export const SPEC_FDS_FROM = STDIO.length;

/** How long an exited child's output pipes may stay open (held by a process that left its group). */
const PIPE_GRACE_MS = 2000;

export interface ChildEvents {
  /** A process was spawned (pid set), before it reports anything. */
  spawn: [number];
  state: [ChildState];
  message: [ChildMessage];
  output: [string, 'stdout' | 'stderr'];
  exit: [ChildExit];
}

/** A start attempt's outcome: ready, or the reason it is not. */
export type StartOutcome = { ready: true } | { ready: false; reason: string };

export class Child extends EventEmitter<ChildEvents> {
  pid = 0;
  state: ChildState = 'stopped';
  restarts = 0;
  /** Times of this child's restarts, for the restart intensity (pruned by the policy's window). */
  history: readonly number[] = [];
  startedAt = 0;
  /** The kernel's start time of `pid` (see ChildStatus.startTime). */
  startTime = 0;
  lastExit = '';
  /** The child's own words from its last `failed` message or last stderr line. */
  lastError = '';
  /** This start attempt was killed for not reporting ready within the spec's readyTimeoutMs. */
  timedOut = false;
  /** What its sandbox launcher applied, as the child reported it when ready ("uid,landlock:7"); '' unsandboxed. */
  sandbox = '';
  /** Its stats record (a container's in its domain segment), -1 for none. */
  statsSlot = -1;
  /** This start attempt listens for messages: links and its handler may be sent. */
  listening = false;
  /** Set once stop() was called: the exit that follows is requested, never restarted. */
  stopping = false;
  slot = -1;
  private proc: Proc | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly spec: ChildSpec) {
    super();
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  setState(s: ChildState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  start(): void {
    this.stopping = false;
    this.timedOut = false;
    this.lastError = '';
    this.startedAt = Date.now();
    this.sandbox = '';
    this.listening = false;
    // A container starts through its sandbox launcher, which then executes Node itself.
    // Nor the supervisor's own node flags (a test runner's --import hooks, say): they would load
    // code from outside the container's sandbox.
    const inherited = this.spec.start.wrapper ? [] : process.execArgv;
    const node = [process.execPath, ...inherited, ...(this.spec.start.nodeOptions ?? []), this.spec.start.module];
    const [file, ...args] = [...(this.spec.start.wrapper ?? []), ...node];
    // The supervisor's environment with the spec's on top (PATH, HOME, a test run's marker).
    // stop() owns the TERM → KILL escalation with the spec's shutdown time.
    const proc: Proc = spawn(file, args, { env: { ...process.env, ...this.spec.start.env }, stdio: [...STDIO, ...(this.spec.start.fds ?? [])], serialization: 'advanced' });
    live.add(proc);
    this.proc = proc;
    this.pid = proc.pid ?? 0;
    this.startTime = startTime(this.pid);
    this.emit('spawn', this.pid);
    this.setState('starting');
    this.pipe(proc.stdout, 'stdout');
    this.pipe(proc.stderr, 'stderr');
    proc.on('message', (m: ChildMessage) => this.onMessage(m));
    this.readyTimer = setTimeout(() => {
      this.lastError = this.notReady();
      this.timedOut = true;
      proc.kill('SIGKILL');
    }, this.spec.readyTimeoutMs);
    const pid = this.pid;
    // The group goes the moment the child has exited, not once its pipes have closed: a
    // process the handler started with `stdio: 'inherit'` holds them open, and the exit (and every
    // stop or deploy waiting for it) would wait for that process. One that left the group (setsid)
    // and still holds them is cut off after a grace.
    let unpipe: NodeJS.Timeout | undefined;
    proc.once('exit', () => {
      killGroup(pid);
      unpipe = setTimeout(() => {
        proc.stdout?.destroy();
        proc.stderr?.destroy();
      }, PIPE_GRACE_MS);
    });
    this.exited = new Promise<void>((resolve) => {
      let ended = false;
      const end = (code: number | null, signal: NodeJS.Signals | null) => {
        if (ended) return;
        ended = true;
        live.delete(proc);
        clearTimeout(this.readyTimer);
        clearTimeout(this.killTimer);
        clearTimeout(unpipe);
        this.proc = undefined;
        const exit: ChildExit = { code, signal, requested: this.stopping, at: Date.now(), ...(this.timedOut ? { cause: this.notReady() } : {}) };
        this.emit('exit', exit);
        resolve();
      };
      // 'close': exited and its output read to the end (or cut off after the grace).
      proc.once('close', end);
      // Not started at all (the launcher or node missing): no exit event follows.
      proc.once('error', (err) => {
        if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) return;
        this.lastError = err.message;
        end(null, null);
      });
    });
  }

  private notReady(): string {
    return `not ready ${Math.round(this.spec.readyTimeoutMs / 1000)} s after start`;
  }

  private pipe(stream: Readable | null, name: 'stdout' | 'stderr'): void {
    if (!stream) return;
    readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      // A child's own log lines are JSON ({level, msg}): its last error is the message itself.
      if (name === 'stderr' && line.trim()) this.lastError = messageOf(line).slice(0, 500);
      this.emit('output', line, name);
    });
  }

  private onMessage(m: ChildMessage): void {
    if (m?.type === 'listening') {
      this.listening = true;
    } else if (m?.type === 'ready') {
      clearTimeout(this.readyTimer);
      this.sandbox = m.sandbox ?? '';
      if (this.state === 'starting') this.setState('ready');
    } else if (m?.type === 'failed') {
      this.lastError = m.message;
    }
    this.emit('message', m);
  }

  send(m: SupervisorMessage): boolean {
    if (!this.proc?.connected) return false;
    this.proc.send(m, (err) => {
      // The child may be exiting; its exit event says what happened.
      void err;
    });
    return true;
  }

  /** The IPC end for handing over sockets (a link), or undefined while not running. */
  get ipc(): { pid: number; send(m: unknown, h?: net.Socket, cb?: (e: Error | null) => void): boolean } | undefined {
    const proc = this.proc;
    if (!proc?.connected) return undefined;
    return { pid: this.pid, send: (m, h, cb) => proc.send(m as SupervisorMessage, h, cb) };
  }

  /** Resolves when this start attempt is ready, or with the reason it died first. */
  outcome(): Promise<StartOutcome> {
    if (this.state === 'ready') return Promise.resolve({ ready: true });
    if (!this.proc) return Promise.resolve({ ready: false, reason: this.lastError || this.lastExit || 'not running' });
    return new Promise((resolve) => {
      const onState = (s: ChildState) => {
        if (s !== 'ready') return;
        this.off('exit', onExit);
        this.off('state', onState);
        resolve({ ready: true });
      };
      const onExit = () => {
        this.off('state', onState);
        resolve({ ready: false, reason: this.lastError || this.lastExit });
      };
      this.on('state', onState);
      this.once('exit', onExit);
    });
  }

  /**
   * SIGTERM asks the child to drain and exit; SIGKILL after shutdownMs. Only one request is sent:
   * a child treats a second SIGTERM as "exit now", which would cut its in-flight requests.
   */
  async stop(timeoutMs = this.spec.shutdownMs): Promise<void> {
    this.stopping = true;
    const proc = this.proc;
    if (!proc) return;
    this.setState('draining');
    proc.kill('SIGTERM');
    this.killTimer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    await this.exited;
  }

  /** SIGKILL without asking for the exit: it counts as a crash and the restart policy applies. */
  abort(): void {
    this.proc?.kill('SIGKILL');
  }

  /** Immediate SIGKILL (OTP's brutal_kill), for a supervisor that is failing. */
  async kill(): Promise<void> {
    this.stopping = true;
    this.proc?.kill('SIGKILL');
    await this.exited;
  }
}

function messageOf(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const msg = (JSON.parse(line) as { msg?: unknown }).msg;
    return typeof msg === 'string' ? msg : line;
  } catch {
    return line;
  }
}

/**
 * Kills what is left of an exited child's process group (processes its handler started). Called
 * once, right at the exit: the group id stays reserved while it has members, so this cannot reach
 * anyone else's processes (a second call later could, once the pid is free for reuse).
 */
function killGroup(pgid: number): void {
  if (pgid <= 0) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in the group
  }
}
