// A run the queue hands a gateway, as a request and a response of the gateway's own making: the
// stored body, query and header lines go in through the same intake as a client's POST /function
// (packets, routing, deadlines, flows, stats and the access log all as usual), and the reply is
// captured, copied out of its packet, instead of written to a socket. No HTTP hop and no port:
// the run arrives on the queue's socket, which only the instance's own processes can reach.
import { EventEmitter } from 'node:events';
import type { ClientRequest, ClientResponse } from '../http1/types.js';

export class RunRequest extends EventEmitter implements ClientRequest {
  readonly method = 'POST';
  readonly headers: { 'content-length': string };
  readonly contentLength: number;
  complete = false;
  private flowing = false;

  constructor(
    readonly url: string,
    /** Name, value, name, value… as Node's rawHeaders. */
    readonly rawHeaders: string[],
    private body: Buffer | undefined,
  ) {
    super();
    this.contentLength = body ? body.length : 0;
    this.headers = { 'content-length': String(this.contentLength) };
  }

  header(lower: string): string | undefined {
    for (let i = 0; i + 1 < this.rawHeaders.length; i += 2) if (this.rawHeaders[i].toLowerCase() === lower) return this.rawHeaders[i + 1];
    return undefined;
  }

  /** The intake listens for 'end' last: the body then flows, on the next turn, as a socket's would. */
  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    super.on(event, listener as (...args: unknown[]) => void);
    if (event === 'end' && !this.flowing) {
      this.flowing = true;
      setImmediate(() => this.flow());
    }
    return this;
  }

  private flow(): void {
    const body = this.body;
    this.body = undefined;
    if (body && body.length) this.emit('data', body);
    this.complete = true;
    this.emit('end');
  }

  resume(): this {
    this.body = undefined;
    this.complete = true;
    return this;
  }
}

/** What the function answered: status, headers, and the body copied out of its packet. */
export interface Captured {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer;
}

export class RunResponse extends EventEmitter implements ClientResponse {
  headersSent = false;
  destroyed = false;
  shouldKeepAlive = true;
  writableFinished = false;
  status = 0;
  headers: Record<string, string | number> = {};
  readonly socket = null;

  constructor(private readonly done: (c: Captured) => void) {
    super();
  }

  writeHead(status: number, headers: Record<string, string | number>): this {
    this.status = status;
    this.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    this.headersSent = true;
    return this;
  }

  end(body?: string | Uint8Array): this {
    if (this.writableFinished || this.destroyed) return this;
    // A copy: the reply's packet is freed as soon as this returns.
    const copy = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
    this.writableFinished = true;
    this.done({ status: this.status || 200, headers: this.headers, body: copy });
    setImmediate(() => this.emit('close'));
    return this;
  }

  writeContinue(): void {}

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    if (!this.writableFinished) this.done({ status: 502, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"error":"the gateway dropped the response","status":502}') });
    setImmediate(() => this.emit('close'));
    return this;
  }
}
