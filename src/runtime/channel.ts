// The message channel between the supervisor and a container: a connected Unix stream socket pair,
// one message per frame (a 4-byte big-endian length, then that many bytes of UTF-8 JSON). Node's own
// IPC channel is not used for containers: its parser runs inside the receiving process, unbounded,
// and throws on bytes a handler writes to the descriptor. Here the reader bounds a message's size
// before buffering it, and the number of messages a second, and turns every violation (a bad
// frame, too large, too many, not UTF-8 JSON) into one call of `onBad` with the reason, after
// which nothing more is read. It never throws. What a message may contain is the receiver's
// validator's business (supervisor/container-messages.ts).
import type net from 'node:net';

/** Container → supervisor: a container's messages are small (its longest, a `failed` message, carries 2,000 characters at most). */
export const FROM_CONTAINER_MAX = 16 << 10;
/** Supervisor → container: a `handler` message carries the bundled handler's source. */
export const TO_CONTAINER_MAX = 256 << 20;
/** Messages a container may send in one second: it sends four in its whole life. */
export const FROM_CONTAINER_PER_SECOND = 16;

const HEADER = 4;

/** One frame: the length, then the JSON. */
export function encodeMessage(m: unknown): Buffer {
  const json = JSON.stringify(m);
  const n = Buffer.byteLength(json);
  const frame = Buffer.allocUnsafe(HEADER + n);
  frame.writeUInt32BE(n, 0);
  frame.write(json, HEADER, 'utf8');
  return frame;
}

export interface ChannelOptions {
  /** The largest message accepted, in bytes of JSON. */
  maxIn: number;
  /** The largest message this end sends. */
  maxOut: number;
  /** The most messages accepted in one second (absent: no bound). */
  perSecond?: number;
  onMessage(m: unknown): void;
  /** A violation: called once; the channel is closed and reads nothing more. */
  onBad(reason: string): void;
  /** The other end closed, or the socket failed: called once (never after onBad). */
  onEnd(reason: string): void;
}

export class Channel {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  /** The length of the message being read; -1 while its header is. */
  private need = -1;
  private windowStart = 0;
  private inWindow = 0;
  private done = false;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(readonly socket: net.Socket, private readonly o: ChannelOptions) {
    socket.on('data', (chunk: Buffer) => this.push(chunk));
    socket.on('error', (err) => this.end(`its channel failed: ${err.message}`));
    socket.on('end', () => this.end(this.buffered > 0 || this.need >= 0 ? `it closed its channel in the middle of a message` : 'it closed its channel'));
    socket.on('close', () => this.end('its channel closed'));
  }

  get closed(): boolean {
    return this.done;
  }

  /** Queues a message; false once the channel is closed. Throws a RangeError past maxOut (the sender's mistake). */
  send(m: unknown): boolean {
    if (this.done || this.socket.destroyed || !this.socket.writable) return false;
    const frame = encodeMessage(m);
    if (frame.length - HEADER > this.o.maxOut) throw new RangeError(`a message of ${frame.length - HEADER} bytes is over the channel's bound of ${this.o.maxOut}`);
    this.socket.write(frame);
    return true;
  }

  close(): void {
    this.done = true;
    this.chunks.length = 0;
    this.socket.destroy();
  }

  private push(chunk: Buffer): void {
    if (this.done) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (!this.done) {
      if (this.need < 0) {
        if (this.buffered < HEADER) return;
        const n = this.take(HEADER).readUInt32BE(0);
        if (n === 0) return this.bad('an empty message');
        if (n > this.o.maxIn) return this.bad(`a message of ${n} bytes (the bound is ${this.o.maxIn})`);
        this.need = n;
      }
      if (this.buffered < this.need) return;
      const body = this.take(this.need);
      this.need = -1;
      if (this.o.perSecond !== undefined && this.flooding()) return this.bad(`more than ${this.o.perSecond} messages in a second`);
      let m: unknown;
      try {
        m = JSON.parse(this.utf8.decode(body)) as unknown;
      } catch {
        return this.bad(`a message of ${body.length} bytes that is not UTF-8 JSON`);
      }
      this.o.onMessage(m);
    }
  }

  private flooding(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    return ++this.inWindow > this.o.perSecond!;
  }

  /** The next `n` bytes buffered (n ≤ buffered), copied only when they span chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    this.buffered -= n;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    for (let at = 0; at < n; ) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }

  private bad(reason: string): void {
    if (this.done) return;
    this.close();
    this.o.onBad(reason);
  }

  private end(reason: string): void {
    if (this.done) return;
    this.close();
    this.o.onEnd(reason);
  }
}
