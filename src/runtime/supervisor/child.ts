// One supervised process: spawn (a gateway with Node's IPC channel, a container with a channel of
// its own), readiness, output to the log, stop (TERM, then KILL after the spec's shutdown time).
// What happens after an exit is the supervisor's call.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { startTime } from '../../common/procs.js';
import type { ChildState } from '../../common/protocol.js';
import type { ChildMessage, SupervisorMessage, ToContainer, ToGateway } from '../protocol.js';
import type { LinkEnd } from '../broker.js';
import { ContainerChannel } from './container-channel.js';
import { killGroup } from './kill-group.js';
import { UNBOUNDED_READS, readOutput, type OutputBounds } from './output.js';
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

/** How long an exited child's output pipes may stay open (held by a process that left its group). */
const PIPE_GRACE_MS = 2000;

export interface ChildEvents {
  /** A process was spawned (pid set), before it reports anything. */
  spawn: [number];
  state: [ChildState];
  message: [ChildMessage];
  /**
   * A line of its output, bounded (a view, valid only during the call); the number is the bytes
   * cut from its end (0: whole).
   */
  output: [Buffer, 'stdout' | 'stderr', number];
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
  /** Why the supervisor killed this start attempt, when it did (ChildExit.cause). */
  private killCause: string | undefined;
  /** What its sandbox launcher applied, as the child reported it when ready ("uid,landlock:7"); '' unsandboxed. */
  sandbox = '';
  /** Its stats record (a container's in its domain segment), -1 for none. */
  statsSlot = -1;
  /** This start attempt listens for messages: links and its handler may be sent. */
  listening = false;
  /** Set once stop() was called: the exit that follows is requested, never restarted. */
  stopping = false;
  slot = -1;
  /** How its output is read: the longest line, and how fast the supervisor reads a pipe (set by the wiring). */
  output: OutputBounds = UNBOUNDED_READS;
  private proc: Proc | undefined;
  /** A container's channel for this start attempt. */
  private channel: ContainerChannel | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** A warm spare (spares.ts) has no function: no ready timeout runs until handOver gives it one. */
  spare = false;
  /** Runs before every spawn, restarts included (a replica's: its domain's cgroups are there, containers.ts). */
  beforeSpawn: (() => void) | undefined;
  /** Replaced once, when a warm spare becomes a replica (handOver). */
  constructor(public spec: ChildSpec) {
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
    this.killCause = undefined;
    this.lastError = '';
    this.startedAt = Date.now();
    this.sandbox = '';
    this.listening = false;
    this.beforeSpawn?.();
    // A container starts through its sandbox launcher, which then executes Node itself; nor the supervisor's
    // own node flags (a test runner's --import hooks, say): they would load code from outside the sandbox.
    const inherited = this.spec.start.wrapper ? [] : process.execArgv;
    const node = [process.execPath, ...inherited, ...(this.spec.start.nodeOptions ?? []), this.spec.start.module];
    const [file, ...args] = [...(this.spec.start.wrapper ?? []), ...node];
    // A container's code is not trusted: no Node IPC channel (Node would parse its bytes in here) but
    // its own (container-channel.ts) at 3 and 4. The environment is the spec's (specs.ts).
    // stop() owns the TERM → KILL escalation with the spec's shutdown time.
    const channel = this.spec.role === 'container' ? new ContainerChannel({ message: (m) => this.onMessage(m), bad: (why) => this.badMessage(proc, why) }) : undefined;
    const own = Object.entries(this.spec.start.fds ?? {});
    const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', ...(channel ? [channel.theirs.messages, channel.theirs.links] : ['ipc' as const]), ...own.map(([, fd]) => fd)];
    // Each inherited descriptor's number, told in the variable the spec names for it.
    const numbers = Object.fromEntries(own.map(([name], i) => [name, String(stdio.length - own.length + i)]));
    const base = { ...this.spec.start.env, ...numbers };
    const env = channel ? { ...base, ...ContainerChannel.env(stdio.indexOf(channel.theirs.messages), stdio.indexOf(channel.theirs.links)) } : base;
    const proc: Proc = spawn(file, args, { env, stdio, serialization: 'advanced' });
    live.add(proc);
    this.proc = proc;
    this.channel = channel;
    this.pid = proc.pid ?? 0;
    if (this.pid) channel?.spawned(this.pid);
    this.startTime = startTime(this.pid);
    this.emit('spawn', this.pid);
    this.setState('starting');
    this.pipe(proc.stdout, 'stdout');
    this.pipe(proc.stderr, 'stderr');
    // A gateway's messages are trusted; a container's were checked by its channel.
    if (!channel) proc.on('message', (m: ChildMessage) => this.onMessage(m));
    if (!this.spare) this.armReady(proc);
    const pid = this.pid;
    // The group goes the moment the child has exited, not once its pipes have closed: a
    // process the handler started with `stdio: 'inherit'` holds them open, and the exit (and every
    // stop or deploy waiting for it) would wait for that process. One that left the group (setsid)
    // and still holds them is cut off after a grace.
    let unpipe: NodeJS.Timeout | undefined;
    proc.once('exit', () => {
      killGroup(pid);
      channel?.exited();
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
        channel?.close();
        if (this.channel === channel) this.channel = undefined;
        this.proc = undefined;
        const exit: ChildExit = { code, signal, requested: this.stopping, at: Date.now(), ...(this.killCause ? { cause: this.killCause } : {}) };
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

  /** The start attempt must report ready within the spec's readyTimeoutMs, or it is killed. */
  private armReady(proc: Proc): void {
    clearTimeout(this.readyTimer);
    this.readyTimer = setTimeout(() => {
      this.lastError = this.notReady();
      this.timedOut = true;
      this.killCause = this.notReady();
      proc.kill('SIGKILL');
    }, this.spec.readyTimeoutMs);
  }

  /** A warm spare becomes a replica of `spec`: its first start attempt from now on; a restart starts `spec` afresh. */
  handOver(spec: ChildSpec): void {
    this.spec = spec;
    this.spare = false;
    this.startedAt = Date.now();
    if (this.proc) this.armReady(this.proc);
  }

  /** Mojo's ReportBadMessage: SIGKILL; the exit's one log line names the reason, the restart policy applies. */
  private badMessage(proc: Proc, reason: string): void {
    if (this.proc !== proc || this.killCause) return;
    this.killCause = `sent a bad message (${reason})`;
    proc.kill('SIGKILL');
  }

  private notReady(): string {
    return `not ready ${Math.round(this.spec.readyTimeoutMs / 1000)} s after start`;
  }

  /**
   * Its output, as bounded lines read no faster than `output` allows (output.ts). Who logs them
   * also keeps `lastError` from its stderr lines, those it does not drop: a line is decoded only
   * once it is known to be kept.
   */
  private pipe(stream: Readable | null, name: 'stdout' | 'stderr'): void {
    if (!stream) return;
    readOutput(stream, this.output, (line, cut) => this.emit('output', line, name, cut));
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

  /** A message to a gateway over Node's IPC channel, or to a container over its own. False while it cannot be sent. */
  send(m: ToGateway | ToContainer): boolean {
    if (this.channel) return this.channel.send(m as ToContainer);
    if (!this.proc?.connected) return false;
    this.proc.send(m as SupervisorMessage, (err) => {
      // The child may be exiting; its exit event says what happened.
      void err;
    });
    return true;
  }

  /** Where a link's end is handed to this child (broker.ts), or undefined while not running. */
  get ipc(): LinkEnd | undefined {
    const proc = this.proc;
    const channel = this.channel;
    if (channel) return { pid: this.pid, sendLink: (fd, m) => channel.sendLink(fd, m) };
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
