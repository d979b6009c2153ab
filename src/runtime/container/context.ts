// The `ctx` a handler receives. Metadata is parsed only if the handler asks for it.
import type { Context, Logger, OutputPacket } from '../handler/types.js';
import { isExhausted, type Descriptor, type PacketPool } from '../../shm/pool.js';
import { parseRequestMeta, type ParsedRequestMeta } from '../meta.js';
import { log } from '../child.js';

export class PoolExhaustedError extends Error {
  constructor(size: number) {
    super(`the shared-memory pool has no free packet of ${size} bytes: try again later or raise the segment size`);
    this.name = 'PoolExhaustedError';
  }
}

export class Output implements OutputPacket {
  readonly bytes: Uint8Array;
  readonly desc: Descriptor;
  length = -1;
  constructor(desc: Descriptor, bytes: Uint8Array) {
    this.desc = desc;
    this.bytes = bytes;
  }
  end(length: number): OutputPacket {
    if (!Number.isInteger(length) || length < 0 || length > this.bytes.length) {
      throw new RangeError(`output.end(${length}): length must be 0..${this.bytes.length}`);
    }
    this.length = length;
    return this;
  }
}

export class RequestContext implements Context {
  readonly functionId: number;
  readonly requestId: number;
  statusCode = 200;
  replyHeaders: Record<string, string> | undefined;
  outputs: Output[] | undefined;
  private meta: ParsedRequestMeta | undefined;
  private q: URLSearchParams | undefined;
  private readonly metaView: Uint8Array;
  private readonly pool: PacketPool;
  // Made on first use: most handlers never touch them, and the request path pays for every object.
  private abort: AbortController | undefined;
  private logger: Logger | undefined;
  private cancelled: string | undefined;

  constructor(pool: PacketPool, functionId: number, requestId: number, metaView: Uint8Array) {
    this.pool = pool;
    this.functionId = functionId;
    this.requestId = requestId;
    this.metaView = metaView;
  }

  get signal(): AbortSignal {
    this.abort ??= new AbortController();
    return this.abort.signal;
  }

  /** The timeout passed: tell a handler that listens. */
  cancel(reason: string): void {
    this.cancelled = reason;
    this.abort?.abort(new Error(reason));
  }

  get log(): Logger {
    const tag = { fn: this.functionId, req: this.requestId };
    this.logger ??= {
      info: (m, f) => log('info', m, { ...tag, ...f }),
      warn: (m, f) => log('warn', m, { ...tag, ...f }),
      error: (m, f) => log('error', m, { ...tag, ...f }),
    };
    return this.logger;
  }

  private get m(): ParsedRequestMeta {
    this.meta ??= parseRequestMeta(this.metaView);
    return this.meta;
  }

  get headers() {
    return this.m.headers;
  }

  get contentType(): string | undefined {
    const ct = this.m.headers['content-type'];
    return Array.isArray(ct) ? ct[0] : ct;
  }

  get query(): URLSearchParams {
    this.q ??= new URLSearchParams(this.m.query);
    return this.q;
  }

  status(code: number): void {
    if (!Number.isInteger(code) || code < 100 || code > 599) throw new RangeError(`ctx.status(${code}): an HTTP status is 100..599`);
    this.statusCode = code;
  }

  header(name: string, value: string): void {
    (this.replyHeaders ??= {})[String(name).toLowerCase()] = String(value);
  }

  output(size: number): OutputPacket {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`ctx.output(${size}): size must be a whole number of bytes`);
    if (this.cancelled) throw new Error(`ctx.output(${size}): ${this.cancelled}; the reply has been sent`);
    // Room after the bytes for the reply metadata, so the reply never needs a second packet.
    let d = this.pool.alloc(size + 1024);
    if (isExhausted(d) && d.reason === 'too-large') d = this.pool.alloc(size);
    if (isExhausted(d)) {
      if (d.reason === 'too-large') throw new RangeError(`ctx.output(${size}): larger than the largest packet (${this.pool.maxPacket} bytes)`);
      throw new PoolExhaustedError(size);
    }
    const out = new Output(d, this.pool.view(d, size));
    (this.outputs ??= []).push(out);
    return out;
  }
}
