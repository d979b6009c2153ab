// A request and its response on a connection the light parser serves (connection.ts). They carry
// what the gateway uses (types.ts) and nothing more: a few fields, one listener slot per event,
// no streams. Node's IncomingMessage and ServerResponse are each an object graph of stream state,
// header maps and listener arrays, made and torn down per request: building them, and the strings
// of every header, was about half of the gateway's CPU per request.
import { COLON, CR, LF, type Head } from './head.js';
import { ATTACHED, NOTED, type ClientRequest, type ClientResponse } from './types.js';
import { checkHeaders } from './response-head.js';

type Listener = (...args: never[]) => void;

/** What a request and its response need of their connection. */
export interface Wire {
  /** Writes a response (its head, then `body`); its 'close' comes once the socket has taken it, or failed. */
  write(res: LightResponse, body: string | Uint8Array | undefined): void;
  /** Shutting down: every response closes its connection. */
  readonly closing: boolean;
  /** The response has been handed to the socket: the connection goes on (or closes). */
  responded(res: LightResponse): void;
  destroy(): void;
}

export class LightRequest implements ClientRequest {
  readonly method: string;
  readonly url: string;
  /** The Content-Length, -1 when there is none (then the body is empty). */
  readonly contentLength: number;
  /** It asked for "Connection: close". */
  readonly close: boolean;
  /** Its header lines, as received (validated by head.ts) in `buf`: strings are made only when asked for. */
  private readonly buf: Buffer;
  private readonly linesStart: number;
  private readonly linesEnd: number;
  complete = false;
  [ATTACHED]: unknown = undefined;
  /** Nobody reads the body: it is dropped as it arrives. */
  dumped = false;
  /** The body is not passed on yet (holdBody): it stays in the connection's buffer. */
  held = false;
  /** The connection's: passes on what it holds once the body is no longer held. */
  wake: (() => void) | undefined = undefined;
  onData: ((chunk: Buffer) => void) | undefined;
  onEnd: (() => void) | undefined;
  onClose: (() => void) | undefined;

  constructor(buf: Buffer, head: Readonly<Head>) {
    this.method = head.method;
    this.url = head.url;
    this.contentLength = head.contentLength;
    this.close = head.close;
    this.buf = buf;
    this.linesStart = head.linesStart;
    this.linesEnd = head.linesEnd;
  }

  /** Only the one the gateway reads (the light parser takes no "Expect"). */
  get headers(): { 'content-length'?: string } {
    return this.contentLength >= 0 ? { 'content-length': String(this.contentLength) } : {};
  }

  get rawHeaders(): string[] {
    const out: string[] = [];
    const buf = this.buf;
    for (let at = this.linesStart; at < this.linesEnd; at = nextLine(buf, at)) {
      const colon = buf.indexOf(COLON, at);
      const v = valueStart(buf, colon + 1);
      out.push(buf.toString('latin1', at, colon), buf.toString('latin1', v, valueEnd(buf, v)));
    }
    return out;
  }

  /**
   * The request's metadata for its packet (meta.ts: the query, then header names and values, '\n'
   * between them, UTF-8), written from the received bytes: what requestMeta() makes of Node's
   * rawHeaders, without a string per header.
   */
  metaBytes(): Uint8Array {
    const url = this.url;
    const q = url.indexOf('?');
    const buf = this.buf;
    let n = q < 0 ? 0 : url.length - q - 1;
    for (let at = this.linesStart; at < this.linesEnd; at = nextLine(buf, at)) {
      const colon = buf.indexOf(COLON, at);
      const v = valueStart(buf, colon + 1);
      const ve = valueEnd(buf, v);
      n += 2 + colon - at + ve - v;
      for (let i = v; i < ve; i++) if (buf[i] >= 0x80) n++;
    }
    const out = Buffer.allocUnsafe(n);
    let o = q < 0 ? 0 : out.write(url.slice(q + 1), 0, 'latin1');
    for (let at = this.linesStart; at < this.linesEnd; at = nextLine(buf, at)) {
      const colon = buf.indexOf(COLON, at);
      const v = valueStart(buf, colon + 1);
      const ve = valueEnd(buf, v);
      out[o++] = LF;
      o += buf.copy(out, o, at, colon);
      out[o++] = LF;
      for (let i = v; i < ve; i++) {
        const b = buf[i];
        if (b < 0x80) out[o++] = b;
        else {
          // Node decodes header bytes as Latin-1; the metadata is the UTF-8 of those characters.
          out[o++] = 0xc0 | (b >> 6);
          out[o++] = 0x80 | (b & 0x3f);
        }
      }
    }
    return out;
  }

  /** The first header named `lower` (given in lower case), without making strings of the others. */
  header(lower: string): string | undefined {
    const buf = this.buf;
    for (let at = this.linesStart; at < this.linesEnd; at = nextLine(buf, at)) {
      const colon = buf.indexOf(COLON, at);
      if (colon - at !== lower.length) continue;
      let i = 0;
      // Header names are tokens: setting 0x20 lower-cases letters and leaves digits and "-" alone.
      while (i < lower.length && (buf[at + i] | 0x20) === lower.charCodeAt(i)) i++;
      if (i < lower.length) continue;
      const v = valueStart(buf, colon + 1);
      return buf.toString('latin1', v, valueEnd(buf, v));
    }
    return undefined;
  }

  resume(): this {
    this.dumped = true;
    return this;
  }

  holdBody(held: boolean): void {
    this.held = held;
    if (!held) this.wake?.();
  }

  /** One listener per event, the last one given: the gateway gives one. */
  on(event: 'data' | 'end' | 'close', listener: Listener): this {
    if (event === 'data') this.onData = listener as (chunk: Buffer) => void;
    else if (event === 'end') this.onEnd = listener as () => void;
    else this.onClose = listener as () => void;
    return this;
  }
}

// Walking a header block head.ts has validated: every line is name ":" OWS value OWS CRLF.
function valueStart(buf: Buffer, at: number): number {
  while (buf[at] === 32 || buf[at] === 9) at++;
  return at;
}

/** The end of the value starting at `v`, trailing whitespace left out. */
function valueEnd(buf: Buffer, v: number): number {
  let e = buf.indexOf(CR, v);
  while (e > v && (buf[e - 1] === 32 || buf[e - 1] === 9)) e--;
  return e;
}

function nextLine(buf: Buffer, at: number): number {
  return buf.indexOf(CR, at) + 2;
}

export class LightResponse implements ClientResponse {
  headersSent = false;
  destroyed = false;
  shouldKeepAlive = true;
  [ATTACHED]: unknown = undefined;
  [NOTED]: unknown = undefined;
  status = 200;
  headers: Record<string, string | number> = NO_HEADERS;
  private headWritten = false;
  private closeListeners: (() => void)[] | (() => void) | undefined;
  private closed = false;

  constructor(private readonly wire: Wire, readonly request: LightRequest) {}

  /** Its connection, under the name Node's response gives it. */
  get socket(): object {
    return this.wire;
  }

  /** Throws, like Node, for a header name or value HTTP cannot carry: nothing is sent then. */
  writeHead(status: number, headers: Record<string, string | number>): this {
    if (this.headWritten) throw new Error('writeHead called twice');
    checkHeaders(headers);
    // The connection's own headers are the server's to write (response-head.ts); asking for close is heard.
    const connection = headers.connection ?? headers.Connection;
    if (typeof connection === 'string' && /\bclose\b/i.test(connection)) this.shouldKeepAlive = false;
    this.status = status;
    this.headers = headers;
    this.headWritten = true;
    return this;
  }

  end(body?: string | Uint8Array): this {
    if (this.headersSent || this.destroyed) return this;
    this.headersSent = true;
    this.wire.write(this, body);
    this.wire.responded(this);
    return this;
  }

  /** The connection ends after this response: the request asked, the response said, or the server is draining. */
  get closes(): boolean {
    return !this.shouldKeepAlive || this.request.close || this.wire.closing;
  }

  /** Never asked for: a request with "Expect" goes to Node's parser (head.ts). */
  writeContinue(): void {}

  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.wire.destroy();
    }
    return this;
  }

  on(_event: 'close', listener: () => void): this {
    const l = this.closeListeners;
    this.closeListeners = l === undefined ? listener : typeof l === 'function' ? [l, listener] : [...l, listener];
    return this;
  }

  /** The response is over: written, or its connection is gone. Once. */
  emitClose(): void {
    if (this.closed) return;
    this.closed = true;
    const l = this.closeListeners;
    if (typeof l === 'function') l.call(this);
    else if (l) for (const f of l) f.call(this);
  }
}

const NO_HEADERS: Record<string, string | number> = Object.freeze({});
