// The `ctx` a handler receives. Metadata is parsed only if the handler asks for it. Every byte
// range a handler is given (its input, each ctx.output) is an ArrayBuffer of exactly that packet's
// bytes (PacketPool.packetView): `.buffer` reaches nothing else, and it is detached once the packet
// is handed on, so a view kept past the request reads and writes nothing.
import type { Context, FlowContext, InvokeResult, Logger, OutputPacket, PacketRef } from '../handler/types.js';
import type { CallSite, Calls } from './calls.js';
import type { Frame } from '../../shm/frame.js';
import { isExhausted, type Descriptor, type PacketPool } from '../../shm/pool.js';
import { parseRequestMeta, type ParsedRequestMeta } from '../meta.js';
import { log } from '../child.js';
import { readSecret } from './secrets.js';

/**
 * Room kept behind an output's bytes for the reply's metadata, so a reply rarely needs a second
 * packet; left out when it would take the next class (a 1 MiB output is a 1 MiB packet, not 2 MiB).
 */
const REPLY_META_ROOM = 1024;

export class Output implements OutputPacket {
  readonly bytes: Uint8Array;
  /** Its packet; none when the domain was short of packet memory at ctx.output(): its bytes are on the heap then. */
  readonly desc: Descriptor | undefined;
  readonly buffer: ArrayBuffer;
  private readonly segment: string;
  length = -1;
  constructor(desc: Descriptor | undefined, buffer: ArrayBuffer, segment: string) {
    this.desc = desc;
    this.buffer = buffer;
    this.segment = segment;
    this.bytes = new Uint8Array(buffer);
  }
  /** Where its bytes are: index and offset -1 (and no segment) for heap bytes. */
  get packet(): PacketRef {
    return { segment: this.desc ? this.segment : '', index: this.desc?.index ?? -1, offset: this.desc?.offset ?? -1, length: this.bytes.length };
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
  private readonly input: Uint8Array;
  private ins: Uint8Array[] | undefined;
  private refs: PacketRef[] | undefined;
  private readonly inputDesc: Descriptor;
  /** Views onto a join step's further inputs (packets its flow holds), detached with the rest. */
  private extraViews: ArrayBuffer[] | undefined;
  /** Answers of ctx.invoke() calls: packets handed to this process, freed when the request ends. */
  received: { desc: Descriptor; buffer: ArrayBuffer }[] | undefined;
  /** Where ctx.invoke() sends its calls (set by the invoker), and the request's deadline (performance.now()). */
  via: { calls: Calls; send(f: Frame): void; gatewayPid: number; deadline: number } | undefined;
  private ended = false;
  /** It called ctx.invoke(): only then is there anything to abandon when it ends (a lookup per request otherwise). */
  private calling = false;

  constructor(pool: PacketPool, functionId: number, requestId: number, metaView: Uint8Array, input: Uint8Array, inputDesc: Descriptor) {
    this.pool = pool;
    this.inputDesc = inputDesc;
    this.functionId = functionId;
    this.requestId = requestId;
    this.metaView = metaView;
    this.input = input;
  }

  get flow(): FlowContext | undefined {
    const f = this.m.flow;
    return f ? { name: f.flow, step: f.step, requestId: f.rid } : undefined;
  }

  /**
   * Every input of this call: the request body, then (for the step after a parallel group) the
   * outputs of that group's other branches, in the order the config lists them. Views onto the
   * packets the flow holds, not copies; they are named by the gateway, checked against this
   * domain's pool like any descriptor.
   */
  get inputs(): readonly Uint8Array[] {
    if (this.ins) return this.ins;
    const more = this.m.flow?.inputs ?? [];
    const refs: PacketRef[] = [this.ref(this.inputDesc, this.input.length)];
    const views = more.map(([index, generation, length]) => {
      const d = this.pool.describe(index, generation);
      refs.push(this.ref(d, length));
      return this.pool.packetView(d, length);
    });
    this.extraViews = views;
    this.refs = refs;
    this.ins = [this.input, ...views.map((v) => new Uint8Array(v))];
    return this.ins;
  }

  get packets(): readonly PacketRef[] {
    if (!this.refs) void this.inputs;
    return this.refs!;
  }

  private ref(d: Descriptor, length: number): PacketRef {
    return { segment: this.pool.segmentName, index: d.index, offset: d.offset, length };
  }

  invoke(to: string | number, bytes: Uint8Array | string): Promise<InvokeResult> {
    if (this.cancelled || this.ended) return Promise.reject(new Error(`ctx.invoke(${JSON.stringify(to)}): ${this.cancelled ?? 'the request has ended'}`));
    if (!this.via) return Promise.reject(new Error('ctx.invoke() is not available here'));
    const via = this.via;
    this.calling = true;
    const isEnded = () => this.ended;
    const site: CallSite = {
      send: (f) => via.send(f),
      gatewayPid: via.gatewayPid,
      requestId: this.requestId,
      input: this.input.buffer as ArrayBuffer,
      inputDesc: this.inputDesc,
      deadline: via.deadline,
      takeOutput: (b) => {
        const i = this.outputs?.findIndex((o) => o.buffer === b.buffer) ?? -1;
        // Heap bytes (no packet for the output at the time) are copied like any other bytes.
        if (i < 0 || !this.outputs![i].desc) return undefined;
        const [o] = this.outputs!.splice(i, 1);
        this.pool.releaseView(o.buffer);
        return o.desc;
      },
      keep: (desc, buffer) => (this.received ??= []).push({ desc, buffer }),
      get ended() {
        return isEnded();
      },
    };
    return via.calls.call(site, to, bytes);
  }

  get signal(): AbortSignal {
    this.abort ??= new AbortController();
    if (this.cancelled && !this.abort.signal.aborted) this.abort.abort(new Error(this.cancelled));
    return this.abort.signal;
  }

  /** The timeout passed or the client went away: tell a handler that listens. */
  cancel(reason: string): void {
    this.cancelled ??= reason;
    this.abort?.abort(new Error(reason));
    // Its calls still running cannot be answered to anyone: a handler awaiting one goes on now.
    if (this.calling) this.via?.calls.abandon(this.requestId, reason);
  }

  get log(): Logger {
    const f = this.m.flow;
    const tag = f ? { fn: this.functionId, req: this.requestId, flow: f.flow, step: f.step, flowReq: f.rid } : { fn: this.functionId, req: this.requestId };
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

  secret(name: string): string {
    return readSecret(name);
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
    const room = this.pool.classFor(size + REPLY_META_ROOM) === this.pool.classFor(size) ? REPLY_META_ROOM : 0;
    const d = this.pool.alloc(size + room);
    if (isExhausted(d) && d.reason === 'too-large') throw new RangeError(`ctx.output(${size}): larger than the largest packet (${this.pool.maxPacket} bytes)`);
    // The domain is short for now and this call cannot wait (it is synchronous): the handler writes
    // into heap memory, and the reply waits for a packet when it is sent (one copy).
    const out = isExhausted(d) ? new Output(undefined, new ArrayBuffer(size), this.pool.segmentName) : new Output(d, this.pool.packetView(d, size), this.pool.segmentName);
    (this.outputs ??= []).push(out);
    return out;
  }

  /** Detaches every view this request handed out (input and outputs): the packets go on now. */
  releaseViews(input: ArrayBuffer | undefined): void {
    this.ended = true;
    if (this.calling) this.via?.calls.abandon(this.requestId, 'the request has ended');
    this.releaseInputs(input);
    for (const o of this.outputs ?? []) this.pool.releaseView(o.buffer);
    for (const r of this.received ?? []) this.pool.releaseView(r.buffer);
  }

  /** Frees the answers of its calls, but the one its reply is (`keep`). */
  freeReceived(keep?: Descriptor): void {
    for (const r of this.received ?? []) if (r.desc !== keep) this.pool.free(r.desc);
    this.received = undefined;
  }

  /** Detaches the views of what this request reads (its input, a join step's further inputs). */
  releaseInputs(input: ArrayBuffer | undefined): void {
    if (input) this.pool.releaseView(input);
    for (const v of this.extraViews ?? []) this.pool.releaseView(v);
    this.extraViews = undefined;
  }
}
