// ctx.invoke() in the container: the call goes to the gateway on the link its request came from,
// with the packet holding the bytes (the request's own input is lent, not copied; an output the
// handler wrote is handed over; other bytes are copied into a packet once), and the answer comes
// back as a packet of this domain handed to this process: the handler reads it in place until
// its request ends.
import { FrameType, NO_PACKET, type Frame } from '../../shm/frame.js';
import { isExhausted, type Descriptor, type Exhausted, type PacketPool } from '../../shm/pool.js';
import { allocPackets, seal, type Packets } from '../envelope.js';
import { waitForPackets } from './memory.js';
import { FLAG_REUSED, contentTypeOf } from '../meta.js';
import type { InvokeResult } from '../handler/types.js';

/** What a call needs of the request that makes it. */
export interface CallSite {
  send(f: Frame): void;
  readonly gatewayPid: number;
  readonly requestId: number;
  readonly input: ArrayBuffer;
  readonly inputDesc: Descriptor;
  /** The request's deadline (performance.now()): how long the call may wait for packet memory. */
  readonly deadline: number;
  /** An output packet of the request whose bytes `b` are: handed over with the call (the handler lets go of it). */
  takeOutput(b: Uint8Array): Descriptor | undefined;
  /** A reply packet handed to this process: the request frees it (and detaches its view) when it ends. */
  keep(d: Descriptor, view: ArrayBuffer): void;
  /** Whether the request has ended (a late answer is only freed). */
  readonly ended: boolean;
}

interface Waiting {
  site: CallSite;
  to: string;
  resolve(r: InvokeResult): void;
  reject(err: Error): void;
}

const WHY: Record<number, string> = {
  400: 'the gateway refused the call (a packet or request it could not accept)',
  404: 'no such function',
  429: 'this request has too many calls running at once (64)',
  499: 'the call was cancelled: its caller\'s request ended',
  502: 'the called function\'s process exited while handling the call',
  503: 'no room in the shared-memory pool, or the function has no ready replica: retry shortly',
  504: 'the called function did not answer within its timeout',
  508: 'a call back into the chain of calls that led here (or deeper than 8): it would wait on itself',
};

export class InvokeError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'InvokeError';
  }
}

export class Calls {
  private next = 1;
  private readonly waiting = new Map<number, Waiting>();

  constructor(private readonly pool: PacketPool) {}

  call(site: CallSite, to: string | number, bytes: Uint8Array | string): Promise<InvokeResult> {
    if (typeof to !== 'string' && !(Number.isInteger(to) && to > 0)) throw new TypeError(`ctx.invoke(${String(to)}): name a function by its name or id`);
    const id = this.next++ >>> 0 || (this.next = 2, 1);
    const meta = JSON.stringify({ parent: site.requestId, to });
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    if (!(data instanceof Uint8Array)) throw new TypeError('ctx.invoke(to, bytes): bytes must be a Uint8Array, Buffer or string');
    // Read before an output is taken: taking it detaches its view.
    const n = data.length;
    const out = data.byteOffset === 0 ? site.takeOutput(data) : undefined;
    const lent = data.buffer === site.input && data.byteOffset === 0;
    // Its own input is lent (the gateway holds that packet for the request anyway), an output is
    // handed over; other bytes are copied into a packet. The metadata always goes apart: behind a
    // lent input are the request's own headers.
    const own: Descriptor | undefined = lent ? site.inputDesc : out;
    const metaLength = Buffer.byteLength(meta);
    const packets = (): Packets | Exhausted => {
      if (!own) return allocPackets(this.pool, n, metaLength, undefined, true);
      const m = this.pool.alloc(metaLength);
      return isExhausted(m) ? m : { body: own, meta: m };
    };
    const send = (got: Packets, from: Uint8Array): Promise<InvokeResult> => {
      if (!own) this.pool.view(got.body, n).set(from);
      const sealed = seal(this.pool, got.body, n, meta, metaLength, { type: FrameType.Invoke, flags: 0, functionId: typeof to === 'number' ? to : 0, requestId: id, status: 0 }, { to: site.gatewayPid, body: !lent }, true, got.meta)!;
      return new Promise<InvokeResult>((resolve, reject) => {
        this.waiting.set(id, { site, to: JSON.stringify(to), resolve, reject });
        site.send(sealed.frame);
      });
    };
    const got = packets();
    if (!isExhausted(got)) return send(got, data);
    const short = () => new InvokeError(503, `ctx.invoke(${JSON.stringify(to)}): ${WHY[503]}`);
    if (got.reason === 'too-large') {
      if (out) this.pool.free(out);
      return Promise.reject(short());
    }
    // The domain is short for now: the call waits for its packets (bytes copied when it has them,
    // from a snapshot: the handler may reuse its buffer meanwhile), up to its request's deadline.
    const from = own ? data : Buffer.from(data);
    return waitForPackets(this.pool, site, packets).then((p) => {
      if (p && !site.ended) return send(p, from);
      if (p) for (const d of p.meta ? [p.body, p.meta] : [p.body]) if (d !== own) this.pool.free(d);
      if (out) this.pool.free(out);
      throw short();
    });
  }

  /**
   * Request `requestId` was cancelled or has ended: its calls still waiting reject with 499. Their
   * answers, when they come, find nobody waiting and are freed.
   */
  abandon(requestId: number, reason: string): void {
    for (const [id, w] of this.waiting) {
      if (w.site.requestId !== requestId) continue;
      this.waiting.delete(id);
      w.reject(new InvokeError(499, `ctx.invoke(${w.to}): ${reason}`));
    }
  }

  /** The gateway's answer to a call. */
  answered(f: Frame): void {
    const w = this.waiting.get(f.requestId);
    const mine = f.index !== NO_PACKET && (f.flags & FLAG_REUSED) === 0;
    if (!w || w.site.ended) {
      // Nobody waits (the request ended): a packet handed to us goes back at once.
      if (w) this.waiting.delete(f.requestId);
      if (mine) this.freeQuietly(f);
      return;
    }
    this.waiting.delete(f.requestId);
    if (f.index === NO_PACKET) return w.reject(new InvokeError(f.status, `ctx.invoke(${w.to}) failed with ${f.status}: ${WHY[f.status] ?? 'the call failed'}`));
    try {
      let body: Uint8Array;
      if (!mine) {
        if (f.length > w.site.input.byteLength) throw new Error('a reply longer than the input it is said to be');
        body = new Uint8Array(w.site.input, 0, f.length);
      } else {
        const d = this.pool.describe(f.index, f.generation);
        if (this.pool.owner(d) !== process.pid) throw new Error(`packet ${f.index} was not handed to this process`);
        const ab = this.pool.packetView(d, f.length);
        w.site.keep(d, ab);
        body = new Uint8Array(ab);
      }
      w.resolve({ status: f.status, contentType: contentTypeOf(f.flags), body });
    } catch (err) {
      w.reject(new InvokeError(502, `ctx.invoke(${w.to}): unusable answer: ${(err as Error).message}`));
    }
  }

  private freeQuietly(f: Frame): void {
    try {
      this.pool.free(this.pool.describe(f.index, f.generation));
    } catch {
      // not ours after all
    }
  }
}
