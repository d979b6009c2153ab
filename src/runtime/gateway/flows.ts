// Flows run in the gateway: each step is an exchange with a container like any request, but its
// answer goes to the flow (a Sink), which hands the reply packet on as the next step's input. Inside
// one security domain the packet itself goes on (its descriptor, no copy); into another domain the
// gateway copies it once. A parallel group sends one input packet to every branch (one copy per
// other domain at most), and the step after it gets the branches' outputs in order as ctx.inputs.
// Packets are counted by their users (the flow's data, each exchange reading them) and go back to
// the pool when the last one is done, never while a container may still read them.
import type { ClientResponse } from '../http1/types.js';
import { FrameType } from '../../shm/frame.js';
import type { Descriptor, PacketPool } from '../../shm/pool.js';
import type { FlowCall, FlowConfig } from '../../config/types.js';
import { seal } from '../envelope.js';
import { FLAG_SHARED, flowMeta, type FlowInfo } from '../meta.js';
import { sendError } from './errors.js';
import type { Carrier, Exchange, Sink } from './exchange.js';
import { respond, type ParsedReply } from './reply.js';

/** What the flow engine needs of the gateway. */
export interface FlowHost {
  poolFor(fn: number): PacketPool | undefined;
  timeoutOf(fn: number): number | undefined;
  takeId(): number;
  submit(p: Exchange): void;
  /** Tells a container working on `p` that nobody wants its answer (Cancel frame). */
  cancel(p: Exchange): void;
  /** A packet the flow holds between steps: a lying container's frame must not free it. */
  hold(pool: PacketPool, d: Descriptor): void;
  release(pool: PacketPool, d: Descriptor): void;
  addInflight(fn: number): void;
  /** Packets for a step's input in its function's domain, waiting for them if it is short (GatewayMemory.obtain). */
  obtain(pool: PacketPool, fn: number, sizes: number[], what: string, then: (descs: Descriptor[]) => void, fail: (status: number, message: string) => void, o?: { deadline?: number }): void;
  /** The flow's answer is decided (its status counted once); `bytesOut` of it went to the client. */
  flowDone(flow: FlowConfig, status: number, t0: number, bytesIn: number, bytesOut: number): void;
  /** One call of a step ended (replied with `status`, or failed with it). */
  stepDone(call: FlowCall, status: number, t0: number): void;
  /** The flow copied `bytes` from one domain's segment into another's. */
  copied(flow: FlowConfig, bytes: number): void;
  /** The flow holds no packet any more. */
  flowReleased(): void;
}

const BACKSTOP_MS = 2000;
/** How much of a failing step's reply is read for its error message. */
const ERROR_PEEK = 4096;

/** The `error` of a step's JSON error reply (the shape every faasflow error has), if it is one. */
function errorOf(r: ParsedReply): string | undefined {
  if (r.length > ERROR_PEEK || !String(r.headers['content-type'] ?? '').startsWith('application/json')) return undefined;
  try {
    const e = (JSON.parse(Buffer.from(r.pool.view(r.desc, r.length)).toString('utf8')) as { error?: unknown }).error;
    return typeof e === 'string' ? e.slice(0, 500) : undefined;
  } catch {
    return undefined;
  }
}
const EMPTY = new Uint8Array(0);
/** A descriptor's fields at their widest, for the longest the metadata naming it can be. */
const WIDEST: [number, number, number] = [0xffffffff, -0x80000000, 0x7fffffff];

/** One flow request, from its body in a packet to the last step's reply written to the client. */
export class FlowRun implements Sink {
  private carrier: Carrier;
  /** A join step's further inputs (the outputs of the group before it but the first). */
  private extras: Carrier[] = [];
  private outputs: (Carrier | undefined)[] = [];
  private readonly active = new Set<Exchange>();
  private index = 0;
  private attempts = 0;
  private done = false;
  private freed = false;
  private readonly deadline: number;
  private readonly bytesIn: number;

  constructor(
    private readonly host: FlowHost,
    private readonly flow: FlowConfig,
    private readonly p: Exchange,
  ) {
    this.carrier = this.own(p.pool, p.desc, p.written);
    this.bytesIn = p.written;
    const longest = (cs: FlowCall[]) => Math.max(...cs.map((c) => c.timeoutMs ?? host.timeoutOf(c.functionId) ?? 30_000));
    this.deadline = p.t0 + (flow.timeoutMs ?? flow.steps.reduce((a, s) => a + longest(s.kind === 'call' ? [s.call] : s.branches), 0));
    p.res!.on('close', () => this.end());
  }

  start(): void {
    this.next();
  }

  private own(pool: PacketPool, desc: Descriptor, length: number): Carrier {
    this.host.hold(pool, desc);
    return { pool, desc, length, users: 1 };
  }

  private drop(c: Carrier | undefined): void {
    if (c && --c.users === 0) this.host.release(c.pool, c.desc);
  }

  private next(): void {
    if (this.done) return;
    if (performance.now() > this.deadline) return this.error(504, 'the flow did not finish within its timeout', this.stepName());
    const step = this.flow.steps[this.index];
    if (step.kind === 'call') return this.call(step.call, undefined);
    this.outputs = step.branches.map(() => undefined);
    step.branches.forEach((b, i) => this.call(b, i));
  }

  private stepName(branch?: number): string {
    const s = this.flow.steps[Math.min(this.index, this.flow.steps.length - 1)];
    if (s.kind === 'call') return s.call.name;
    return branch === undefined ? s.branches.map((b) => b.name).join('+') : s.branches[branch].name;
  }

  /** `src` copied into packet `d` of `pool`, the flow's: the one copy a domain crossing costs. */
  private copy(src: Carrier, pool: PacketPool, d: Descriptor, length = src.length): Carrier {
    pool.view(d, length).set(src.pool.view(src.desc, length));
    if (pool !== src.pool) this.host.copied(this.flow, length);
    return this.own(pool, d, length);
  }

  /** The metadata of a call of `c`: the flow, the step, and where its further inputs are. */
  private metaFor(name: string, inputs: [number, number, number][]): string {
    const info: FlowInfo = { flow: this.flow.name, step: name, rid: this.p.id, ...(inputs.length ? { inputs } : {}) };
    return flowMeta(info, typeof this.p.meta === 'string' ? this.p.meta : Buffer.from(this.p.meta).toString('utf8'));
  }

  /**
   * Sends step `c` (or branch `branch` of a parallel group) its input: the flow's packets, copied
   * into the step's domain where they are not in it, and its metadata in a packet of its own (the
   * branches share their input). Those packets are had first, waiting for them if the domain is short.
   */
  private call(c: FlowCall, branch: number | undefined): void {
    const name = this.stepName(branch);
    const pool = this.host.poolFor(c.functionId);
    if (!pool) return this.error(502, `function ${c.functionId} (${c.name}) is not running`, name);
    const sources = [this.carrier, ...this.extras];
    const crossing = sources.filter((src) => src.pool !== pool);
    const metaBound = Buffer.byteLength(this.metaFor(name, sources.slice(1).map(() => WIDEST)));
    this.host.obtain(pool, c.functionId, [...crossing.map((x) => x.length), metaBound], `step ${name}'s input (${sources.reduce((a, x) => a + x.length, 0)} bytes)`,
      (descs) => this.send(c, branch, pool, sources, descs),
      (status, message) => this.error(status, message, name),
      { deadline: this.deadline });
  }

  private send(c: FlowCall, branch: number | undefined, pool: PacketPool, sources: Carrier[], descs: Descriptor[]): void {
    if (this.done) {
      // The flow ended while the step waited for memory: nothing of it is read any more.
      for (const d of descs) this.host.release(pool, d);
      return;
    }
    const name = this.stepName(branch);
    let k = 0;
    const reads = sources.map((src) => (src.pool === pool ? (src.users++, src) : this.copy(src, pool, descs[k++])));
    const [input, ...extras] = reads;
    const meta = this.metaFor(name, extras.map((e) => [e.desc.index, e.desc.generation, e.length]));
    const id = this.host.takeId();
    // Always FLAG_SHARED: the input is the flow's (maybe other branches' too), never the container's
    // to keep; its metadata goes in a packet of its own so branches can share the input.
    const sealed = seal(pool, input.desc, input.length, meta, Buffer.byteLength(meta), { type: FrameType.Request, flags: FLAG_SHARED, functionId: c.functionId, requestId: id, status: 0 }, undefined, true, descs[k])!;
    const t0 = performance.now();
    const ex: Exchange = {
      id, fn: c.functionId, req: undefined, res: undefined, sink: this, borrowed: true, body: null, view: EMPTY, written: input.length, known: input.length,
      meta, metaLength: 0, pool, desc: input.desc, metaDesc: sealed.metaDesc, frame: sealed.frame, t0, tSent: 0, tReply: 0, replica: undefined,
      deadline: Math.min(this.deadline, t0 + (c.timeoutMs ?? this.host.timeoutOf(c.functionId) ?? 30_000) + BACKSTOP_MS),
      reply: undefined, replyStatus: 0, answered: false, counted: false, kept: false, bytesIn: input.length, intake: this.p.intake, step: { call: c, branch, reads },
    };
    this.active.add(ex);
    this.host.addInflight(c.functionId);
    this.host.submit(ex);
  }

  /** The gateway is done with an exchange (its container no longer reads its packets): one user less each. */
  released(ex: Exchange): void {
    if (!this.active.delete(ex)) return;
    if (!ex.kept) ex.step!.reads.forEach((r) => this.drop(r));
    if (this.done && this.active.size === 0) this.releaseAll();
  }

  replied(ex: Exchange, r: ParsedReply): void {
    const { call, branch, reads } = ex.step!;
    this.host.stepDone(call, r.status, ex.t0);
    if (this.done) return r.reused ? undefined : this.host.release(r.pool, r.desc);
    if (r.status >= 400) {
      const why = errorOf(r);
      if (!r.reused) this.host.release(r.pool, r.desc);
      return this.fail(call, branch, r.status, `step ${this.stepName(branch)} answered ${r.status}${why ? `: ${why}` : ''}`, false);
    }
    // A reply in its own request packet is that packet, one user more (a shorter one, shared with
    // others that read all of it, is copied: the one case a reply in place costs a copy); else the
    // reply packet, the flow's now.
    if (!r.reused) return this.produced(branch, this.own(r.pool, r.desc, r.length), r);
    if (r.length === reads[0].length) {
      reads[0].users++;
      return this.produced(branch, reads[0], r);
    }
    // Kept while its copy waits for memory: the exchange lets go of what it read when this returns.
    const src = reads[0];
    src.users++;
    const name = this.stepName(branch);
    this.host.obtain(src.pool, call.functionId, [r.length], `step ${name}'s reply (${r.length} bytes)`, ([d]) => {
      if (this.done) this.host.release(src.pool, d);
      const out = this.done ? undefined : this.copy(src, src.pool, d, r.length);
      this.drop(src);
      if (out) this.produced(branch, out, r);
    }, (status, message) => {
      this.drop(src);
      this.error(status, message, name);
    }, { deadline: this.deadline });
  }

  /** A step's (or branch's) output: once the step is done, the flow goes on with what it produced. */
  private produced(branch: number | undefined, out: Carrier, r: ParsedReply): void {
    this.attempts = 0;
    if (branch !== undefined) {
      this.outputs[branch] = out;
      if (this.outputs.some((o) => o === undefined)) return;
    }
    // The step is done: its input and further inputs give way to what it produced.
    this.drop(this.carrier);
    this.extras.forEach((e) => this.drop(e));
    const produced = branch === undefined ? [out] : (this.outputs as Carrier[]);
    this.outputs = [];
    this.carrier = produced[0];
    this.extras = produced.slice(1);
    this.index++;
    if (this.index < this.flow.steps.length) return this.next();
    this.answer(r);
  }

  failed(ex: Exchange, status: number, message: string): void {
    const { call, branch } = ex.step!;
    this.host.stepDone(call, status, ex.t0);
    if (!this.done) this.fail(call, branch, status, message, ex.kept);
  }

  /** A failed step is retried when the config allows it (idempotent steps only); else the flow fails, naming it. */
  private fail(call: FlowCall, branch: number | undefined, status: number, message: string, kept: boolean): void {
    if (status >= 500 && !kept && this.attempts < call.retries && performance.now() < this.deadline) {
      this.attempts++;
      return this.call(call, branch);
    }
    this.error(status, message, this.stepName(branch));
  }

  /** The last step's reply, to the client: its status, headers and body, from its packet. */
  private answer(r: ParsedReply): void {
    this.done = true;
    const c = this.carrier;
    const counted = () => this.host.flowDone(this.flow, r.status, this.p.t0, this.bytesIn, c.length);
    const refused = respond(this.p.res!, { ...r, pool: c.pool, desc: c.desc, length: c.length }, this.p.id, counted);
    if (refused !== undefined) {
      this.done = false;
      return this.error(500, `the last step set an invalid reply header: ${refused}`, this.stepName());
    }
    // Sent from the packet: it goes back once the response is over (end(), on 'close').
  }

  private error(status: number, message: string, step: string): void {
    if (this.done) return;
    this.done = true;
    for (const ex of this.active) this.host.cancel(ex);
    if (this.active.size === 0) this.releaseAll();
    this.host.flowDone(this.flow, status, this.p.t0, this.bytesIn, 0);
    sendError(this.p.res as ClientResponse, status, message, { requestId: this.p.id, step }, { 'x-request-id': String(this.p.id) });
  }

  /** The client's response is over (answered, failed, or the client left). */
  private end(): void {
    if (!this.done) {
      this.done = true;
      for (const ex of this.active) this.host.cancel(ex);
      this.host.flowDone(this.flow, 499, this.p.t0, this.bytesIn, 0);
    }
    if (this.active.size === 0) this.releaseAll();
  }

  /** With no exchange left reading them, everything the flow still holds goes back (once). */
  private releaseAll(): void {
    if (this.freed) return;
    this.freed = true;
    for (const c of new Set([this.carrier, ...this.extras, ...this.outputs])) {
      if (!c) continue;
      c.users = 1;
      this.drop(c);
    }
    this.host.flowReleased();
  }
}
