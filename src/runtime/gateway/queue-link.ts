// A gateway's connection to the async queue process (its Unix socket in the runtime directory):
// made at start and again whenever it drops. Requests handed over wait for their commit's ACK;
// results and stats are asked for and answered by sequence number; runs come the other way and
// are answered with the function's reply. A drop answers everything waiting (the client gets 503:
// it was not accepted) and loses no accepted request: the queue has them on disk. The supervisor
// holds one too, as a producer (`runs: false`), to fire the config's schedules (queue/schedules.ts).
import net from 'node:net';
import fs from 'node:fs';
import { ACK, FrameReader, GET_RESULT, GET_STATS, HELLO, JOURNAL, PUT, RAN, RESULT, RUN, STATS, encodeFrame, type WireFrame } from '../queue/wire.js';
import { log } from '../child.js';

const RECONNECT_MS = 200;
/** How long a request waits for its commit before the client is told 503. */
const ACK_TIMEOUT_MS = 10_000;
/**
 * While the queue is away (killed, restarting: a few seconds on a loaded box) requests wait for
 * it this long rather than get a 503 at once; at most this many wait, the rest get their 503 now.
 */
const RECONNECT_WAIT_MS = 5000;
const MAX_WAITING = 10_000;

type Waiter = { resolve: (f: WireFrame) => void; reject: (e: Error) => void; deadline: number };
/** How often answers past their deadline are looked for (one timer for all, not one per request). */
const SWEEP_MS = 250;

export interface QueueLinkOptions {
  /** false: a producer, which the queue hands no runs (the supervisor's link for schedules). */
  runs?: boolean;
  /** Where its warnings go (default: this process's log lines). */
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

const corked = new WeakSet<net.Socket>();
const uncork = (s: net.Socket) => {
  corked.delete(s);
  s.uncork();
};

/**
 * Frames go out corked until this turn of the event loop has handled all its I/O: the PUTs of
 * every request that arrived in it (and the RANs of the runs that finished) leave in one writev,
 * one syscall and one wakeup of the queue for all of them, not three writes a frame.
 */
function sendFrame(s: net.Socket, type: number, seq: number, json: object, body?: Uint8Array): void {
  if (!corked.has(s)) {
    corked.add(s);
    s.cork();
    setImmediate(uncork, s);
  }
  for (const b of encodeFrame(type, seq, json, body)) s.write(b);
}

export class QueueLink {
  private socket: net.Socket | undefined;
  private connected = false;
  private closed = false;
  private seq = 0;
  /** By sequence number, so in the order sent: the oldest deadlines come first. */
  private readonly waiting = new Map<number, Waiter>();
  private sweeper: NodeJS.Timeout | undefined;
  private saidDown = false;
  /** What was asked while the queue was away, sent once it is back (each with its own deadline). */
  private held: { send: (s: net.Socket) => void; fail: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  /** Runs the queue hands this gateway: (frame, answer). */
  onRun: (f: WireFrame, answer: (json: object, body: Uint8Array) => void) => void = () => undefined;
  private readonly log: NonNullable<QueueLinkOptions['log']>;

  constructor(
    private readonly file: string,
    /** The control token's file: its token is the first frame on every connection (the queue's gate). */
    private readonly tokenFile: string,
    private readonly maxFrame: number,
    private readonly opts: QueueLinkOptions = {},
  ) {
    this.log = opts.log ?? log;
    this.connect();
  }

  get up(): boolean {
    return this.connected;
  }

  private connect(): void {
    if (this.closed) return;
    const s = net.createConnection(this.file);
    this.socket = s;
    const reader = new FrameReader(this.maxFrame, (f) => this.frame(f), (why) => {
      this.log('error', `the queue sent ${why}: reconnecting`);
      s.destroy();
    });
    s.on('connect', () => {
      let token: string;
      try {
        token = fs.readFileSync(this.tokenFile, 'utf8').trim();
      } catch (err) {
        this.log('warn', `cannot read the instance token for the async queue: ${(err as Error).message}`);
        return s.destroy();
      }
      sendFrame(s, HELLO, 0, this.opts.runs === false ? { token, runs: false } : { token });
      this.connected = true;
      if (this.saidDown) this.log('info', 'connected to the async queue again');
      this.saidDown = false;
      for (const h of this.held.splice(0)) {
        clearTimeout(h.timer);
        h.send(s);
      }
    });
    s.on('data', (c: Buffer) => reader.push(c));
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.saidDown && !this.closed) this.log('warn', `the async queue is not reachable (${err.code ?? err.message}): async requests get 503 until it is`);
      this.saidDown = true;
    });
    s.on('close', () => {
      this.connected = false;
      this.socket = undefined;
      for (const [seq, w] of this.waiting) {
        this.waiting.delete(seq);
        w.reject(new Error('the connection to the async queue closed'));
      }
      if (!this.closed) setTimeout(() => this.connect(), RECONNECT_MS).unref();
    });
  }

  private frame(f: WireFrame): void {
    if (f.type === RUN) {
      const s = this.socket;
      return this.onRun(f, (json, body) => {
        // The run's answer goes on the connection it came on; a new one's queue has forgotten it.
        if (s && s === this.socket && !s.destroyed) sendFrame(s, RAN, f.seq, json, body);
      });
    }
    if (f.type !== ACK && f.type !== RESULT && f.type !== STATS) return;
    const w = this.waiting.get(f.seq);
    if (!w) return;
    this.waiting.delete(f.seq);
    w.resolve(f);
  }

  private ask(type: number, json: object, body?: Uint8Array): Promise<WireFrame> {
    return new Promise((resolve, reject) => {
      const send = (s: net.Socket) => {
        const seq = this.seq = (this.seq % 0xffffffff) + 1;
        this.waiting.set(seq, { resolve, reject, deadline: Date.now() + ACK_TIMEOUT_MS });
        this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
        sendFrame(s, type, seq, json, body);
      };
      if (this.socket && this.connected) return send(this.socket);
      if (this.closed || this.held.length >= MAX_WAITING) return reject(new Error('the async queue is not reachable'));
      const h = {
        send,
        fail: reject,
        timer: setTimeout(() => {
          this.held = this.held.filter((x) => x !== h);
          reject(new Error(`the async queue has not been reachable for ${RECONNECT_WAIT_MS} ms`));
        }, RECONNECT_WAIT_MS),
      };
      this.held.push(h);
    });
  }

  /** Answers not come by their deadline fail (the client gets its 503); the timer stops when none wait. */
  private sweep(): void {
    const now = Date.now();
    for (const [seq, w] of this.waiting) {
      if (w.deadline > now) break;
      this.waiting.delete(seq);
      w.reject(new Error(`the async queue did not answer within ${ACK_TIMEOUT_MS} ms`));
    }
    if (this.waiting.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Hands a request over; resolves once it is committed. */
  async put(json: object, body: Uint8Array): Promise<void> {
    const f = await this.ask(PUT, json, body);
    if (f.json.ok !== true) throw new Error(typeof f.json.error === 'string' ? f.json.error : 'the queue refused the request');
  }

  /**
   * Tells the queue this gateway's journal has new records, so that it reads them now rather than
   * at its next tick. Not answered; dropped while the queue is away (it reads every journal when back).
   */
  journaled(file: string): void {
    if (this.socket && this.connected) sendFrame(this.socket, JOURNAL, 0, { file });
  }

  result(id: string, caller: string): Promise<WireFrame> {
    return this.ask(GET_RESULT, { id, caller });
  }

  async stats(): Promise<Record<string, unknown>> {
    return (await this.ask(GET_STATS, {})).json;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const h of this.held.splice(0)) {
      clearTimeout(h.timer);
      h.fail(new Error('the gateway is stopping'));
    }
    this.socket?.destroy();
  }
}
