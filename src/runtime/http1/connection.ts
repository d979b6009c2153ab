// One client connection served by the light parser: heads parsed by head.ts, bodies passed on as
// they arrive, responses written in order. Requests on a connection are taken one at a time (the
// next head is read once the previous response has been handed to the socket), which keeps
// pipelined responses in order without a queue. The first head the light parser does not take,
// and everything after it, goes to Node's parser (server.ts): the connection changes hands only
// between requests, so neither parser ever sees half of one.
import type net from 'node:net';
import { INCOMPLETE, UNSUPPORTED, parseHead } from './head.js';
import { LightRequest, LightResponse, type Wire } from './message.js';
import { responseHeadString, writeResponseHead } from './response-head.js';

/** Bodies this small are copied behind their head and sent in one write; larger ones go as they are. */
const COPY_LIMIT = 16 * 1024;
/** Where response heads are written before they are copied out: one for the process. */
const SCRATCH = Buffer.allocUnsafeSlow(16 * 1024);
/** Bytes read ahead of a response still being made, past which the socket stops reading. */
const READ_AHEAD = 64 * 1024;

export interface ConnectionHost {
  onRequest(req: LightRequest, res: LightResponse): void;
  /** Hands the socket to Node's parser with the bytes not parsed yet. */
  handOver(socket: net.Socket, rest: Buffer | undefined): void;
  forget(c: LightConnection): void;
  /** Something threw while a request was read (the connection is destroyed). */
  failed(err: Error): void;
  /** Shutting down: every response closes its connection. */
  readonly draining: boolean;
  /** The line kept-alive responses carry (response-head.ts, keepAliveLine). */
  readonly keepAlive: Buffer;
}

export class LightConnection implements Wire {
  /** Bytes received and not parsed yet, from `pos`. */
  private buf: Buffer | undefined;
  private pos = 0;
  /** The request whose body is still arriving, and how much of it. */
  private req: LightRequest | undefined;
  private bodyLeft = 0;
  /** The response not handed to the socket yet: the next request waits for it. */
  private res: LightResponse | undefined;
  /** Responses handed to the socket and not yet written: each hears 'close' once it is (or the socket dies). */
  private readonly unwritten: LightResponse[] = [];
  private driving = false;
  private again = false;
  /** No more requests: the socket is ending, gone, or Node's now. */
  private done = false;
  /** performance.now() when the request being received began (0: none), and when the connection went idle. */
  startedAt = 0;
  idleSince = performance.now();

  constructor(readonly id: number, readonly socket: net.Socket, private readonly host: ConnectionHost) {
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    socket.on('error', ignore);
  }

  /** The head of a request is arriving (the limit on it is headersTimeout). */
  get inHead(): boolean {
    return this.startedAt > 0 && this.req === undefined && this.res === undefined;
  }

  /** Neither receiving a request nor making a response. */
  get idle(): boolean {
    return this.req === undefined && this.res === undefined && this.startedAt === 0 && this.unwritten.length === 0;
  }

  private readonly onData = (chunk: Buffer): void => {
    try {
      this.receive(chunk);
    } catch (err) {
      // A bug here must cost this connection only, never the process (and every other request).
      this.host.failed(err as Error);
      this.socket.destroy();
    }
  };

  private receive(chunk: Buffer): void {
    if (this.done && this.req === undefined) return;
    if (this.buf === undefined) {
      this.buf = chunk;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.pos = 0;
    }
    this.drive();
    if (this.res !== undefined && this.buf !== undefined && this.buf.length - this.pos > READ_AHEAD) this.socket.pause();
  }

  /**
   * The client will send no more. Like Node's server (without httpAllowHalfOpen): what has been
   * written still goes out, the rest is abandoned, and the close that follows tells the gateway
   * the client left.
   */
  private readonly onEnd = (): void => {
    this.done = true;
    this.socket.end();
  };

  private readonly onClose = (): void => {
    this.done = true;
    this.host.forget(this);
    const req = this.req;
    this.req = undefined;
    if (req && !req.complete) req.onClose?.call(req);
    this.res?.emitClose();
    this.res = undefined;
    for (const r of this.unwritten.splice(0)) r.emitClose();
  };

  /** Parses and passes on what has arrived; re-entered from a response ended inside a handler, it loops instead. */
  private drive(): void {
    if (this.driving) {
      this.again = true;
      return;
    }
    this.driving = true;
    try {
      do {
        this.again = false;
        this.step();
      } while (this.again);
    } finally {
      this.driving = false;
    }
  }

  private step(): void {
    for (;;) {
      const buf = this.buf;
      if (buf === undefined) return;
      if (this.req !== undefined) {
        // Held: it stays in the buffer (receive() stops reading past READ_AHEAD) until wake().
        if (this.req.held) return;
        const n = Math.min(this.bodyLeft, buf.length - this.pos);
        const piece = buf.subarray(this.pos, this.pos + n);
        this.consumed(n);
        this.bodyLeft -= n;
        const req = this.req;
        if (!req.dumped) req.onData?.call(req, piece);
        if (this.bodyLeft === 0) this.received(req);
        continue;
      }
      if (this.res !== undefined || this.done) return;
      // A client that sends requests but does not read the answers: no more of them until it
      // does, so answers (and the packets they are written from) cannot pile up.
      if (this.socket.writableNeedDrain) return void this.socket.pause();
      if (this.startedAt === 0) this.startedAt = performance.now();
      const head = parseHead(buf, this.pos);
      if (head === INCOMPLETE) return;
      if (head === UNSUPPORTED) return this.handOver();
      const req = new LightRequest(buf, head);
      req.wake = this.wake;
      this.consumed(head.end - this.pos);
      const res = new LightResponse(this, req);
      this.res = res;
      this.req = req;
      this.bodyLeft = Math.max(0, head.contentLength);
      this.host.onRequest(req, res);
      if (this.bodyLeft === 0 && this.req === req) this.received(req);
    }
  }

  private consumed(n: number): void {
    this.pos += n;
    if (this.pos >= this.buf!.length) {
      this.buf = undefined;
      this.pos = 0;
    }
  }

  /** The whole body is in. */
  private received(req: LightRequest): void {
    this.req = undefined;
    this.startedAt = 0;
    req.complete = true;
    if (!req.dumped) req.onEnd?.call(req);
  }

  private handOver(): void {
    this.done = true;
    const rest = this.buf?.subarray(this.pos);
    this.buf = undefined;
    const s = this.socket;
    s.pause();
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onClose);
    s.removeListener('drain', this.onDrain);
    s.removeListener('error', ignore);
    this.host.forget(this);
    // Responses still being written hear their 'close' from their write callbacks.
    this.host.handOver(s, rest);
  }

  // ---- Wire: what a response asks of its connection -------------------------------------------

  get closing(): boolean {
    return this.host.draining;
  }

  write(res: LightResponse, body: string | Uint8Array | undefined): void {
    const s = this.socket;
    // Never during end(): its caller records what the 'close' listener frees only after end() returns.
    if (s.destroyed || s.writableEnded) return void process.nextTick(closeLater, res);
    this.unwritten.push(res);
    const done = this.onWritten;
    // A HEAD request, or a status that has none, gets the head alone (its Content-Length stays, as Node does).
    if (res.status === 204 || res.status === 304 || res.status < 200 || res.request.method === 'HEAD') body = undefined;
    const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body?.length ?? 0;
    const headEnd = writeResponseHead(SCRATCH, 0, res.status, res.headers, res.closes, this.host.keepAlive);
    if (headEnd < 0) {
      // Headers larger than the scratch buffer: rare enough to build them as a string.
      if (bytes === 0) return void s.write(responseHeadString(res.status, res.headers, res.closes, this.host.keepAlive), 'latin1', done);
      s.cork();
      s.write(responseHeadString(res.status, res.headers, res.closes, this.host.keepAlive), 'latin1');
      s.write(body!, done);
      s.uncork();
    } else if (bytes <= COPY_LIMIT) {
      // Head and body in one buffer and one write: cheaper than a writev of two.
      const out = Buffer.allocUnsafe(headEnd + bytes);
      SCRATCH.copy(out, 0, 0, headEnd);
      if (typeof body === 'string') out.write(body, headEnd, 'utf8');
      else if (body) out.set(body, headEnd);
      s.write(out, done);
    } else {
      s.cork();
      s.write(Buffer.from(SCRATCH.subarray(0, headEnd)));
      s.write(body!, done);
      s.uncork();
    }
  }

  /** A write finished (or failed): writes finish in order, so it is the oldest response's. */
  private readonly onWritten = (): void => {
    this.unwritten.shift()?.emitClose();
  };

  responded(res: LightResponse): void {
    if (res !== this.res) return;
    this.res = undefined;
    this.idleSince = performance.now();
    if (res.closes || this.done) {
      this.done = true;
      // A body still arriving is not wanted: the connection ends with the response.
      if (this.req !== undefined) this.req.dumped = true;
      this.socket.end();
      return;
    }
    if (this.socket.isPaused() && !this.socket.writableNeedDrain) this.socket.resume();
    // More requests already here (pipelined) are taken on the next tick, not inside the end() of
    // this one: its caller is in the middle of recording it.
    if (this.driving) this.again = true;
    else if (this.buf !== undefined) process.nextTick(driveLater, this);
  }

  /** The socket took what was waiting to be written: requests may be read again. */
  private readonly onDrain = (): void => {
    if (this.done) return;
    this.socket.resume();
    if (this.buf !== undefined && this.res === undefined) this.drive();
  };

  /** A held body may go on: what is buffered is passed on now, and the socket reads again. */
  private readonly wake = (): void => {
    if (this.req === undefined) return;
    this.drive();
    if (this.socket.isPaused() && !this.socket.writableNeedDrain && (this.buf === undefined || this.buf.length - this.pos <= READ_AHEAD)) this.socket.resume();
  };

  /** For process.nextTick. */
  next(): void {
    if (!this.done) this.drive();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The request being received took longer than allowed: answered (if it can be) and the connection ends. */
  expire(reply: string): void {
    if (this.done || this.res?.headersSent) return void this.socket.destroy();
    this.done = true;
    if (this.res) this.res.destroyed = true;
    this.socket.end(reply, 'latin1');
  }
}

function ignore(): void {}

function driveLater(c: LightConnection): void {
  c.next();
}

function closeLater(res: LightResponse): void {
  res.emitClose();
}
