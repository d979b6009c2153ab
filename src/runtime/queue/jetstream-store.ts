// The async queue's store in NATS JetStream (async.store.nats): the stream of jetstream-stream.ts
// holds every request, and this process keeps the rows in memory, rebuilt at start by reading the
// stream from its first message. So a queue process killed mid-run loses nothing: its successor
// finds every request without a result pending and runs it again at once (no ack wait to sit out),
// with the same request id. A 202 waits for the server's PubAck of the request: stored in the
// stream (on disk, or on a quorum of replicas). Results and states are published too but not
// waited for; one that does not reach the server is published again (latest wins) once it is back.
// While the connection is down a PUT fails at once (the gateway answers 503, never a 202 it
// cannot keep) and the client reconnects for ever. Changes other writers make (`faasflow queue
// retry` and `purge`) arrive through the same ordered read of the stream, which never ends.
import { randomBytes } from 'node:crypto';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { consumerOpts } from 'nats';
import type { CallbackState, NewRequest, Outcome, QueueStore, RowWithBody, RowWithResult } from './store.js';
import { ID_RE, apply, depthOf, newRow, connectTo, decode, encode, ensureStream, manager, stateJson, subject, writerOf, type NatsTarget, type StreamRow } from './jetstream-stream.js';
import { JournalOffsets } from './journal-offsets.js';

/** How long a publish waits for its PubAck. */
const PUB_TIMEOUT_MS = 5000;
const RESEND_MS = 1000;

export class JetStreamStore implements QueueStore {
  private readonly rows = new Map<string, StreamRow>();
  /** Pending rows in the order they became due (insertion order): the due ones are found first. */
  private readonly pending = new Map<string, StreamRow>();
  private readonly callbacks = new Map<string, StreamRow>();
  private readonly totals: Record<string, number> = {};
  private countersDirty = false;
  /** Publishes not yet acknowledged, and those that failed, by subject: the latest payload wins. */
  private readonly flights = new Set<Promise<unknown>>();
  private readonly latest = new Map<string, Uint8Array>();
  private readonly unsent = new Map<string, Uint8Array>();
  private readonly writer = randomBytes(8).toString('hex');
  private connected = true;
  private closing = false;
  private readonly timer: NodeJS.Timeout;
  failures = 0;
  readonly where: string;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly t: NatsTarget,
    private readonly log: (level: 'info' | 'warn', line: string) => void,
    private readonly offsets: JournalOffsets,
  ) {
    this.where = `NATS JetStream stream ${t.stream} at ${t.servers.join(', ')} (a 202 waits for the server's PubAck; durability is the server's: see README)`;
    this.timer = setInterval(() => this.resend(), RESEND_MS);
    this.timer.unref();
    void this.watchStatus();
  }

  static async open(t: NatsTarget, instance: string, log: (level: 'info' | 'warn', line: string) => void, offsetsFile: string): Promise<JetStreamStore> {
    const nc = await connectTo(t.servers, `faasflow-queue-${instance}`);
    try {
      const jsm = await manager(nc, t.servers);
      await ensureStream(jsm, t.stream, instance, t.replicas);
      const s = new JetStreamStore(nc, nc.jetstream({ timeout: PUB_TIMEOUT_MS }), jsm, t, log, new JournalOffsets(offsetsFile, log));
      await s.follow();
      return s;
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /** Reads the stream from its start, applying every message; resolves once it has caught up, then follows it. */
  private async follow(): Promise<void> {
    const info = await this.jsm.streams.info(this.t.stream);
    let caughtUp!: () => void;
    const ready = new Promise<void>((r) => (caughtUp = r));
    if (info.state.messages === 0) caughtUp();
    let replaying = info.state.messages > 0;
    // An ordered push consumer (the API nats-server 2.9 has; the newer consume() needs 2.10):
    // it re-creates itself past the last message seen when the server comes back.
    const o = consumerOpts();
    o.orderedConsumer();
    o.deliverAll();
    const messages = await this.js.subscribe(`${this.t.stream}.>`, o);
    void (async () => {
      for await (const m of messages) {
        // Our own writes are in memory already, and newer than their echo.
        if (!replaying && writerOf(m.data) === this.writer) continue;
        const id = apply(this.rows, this.totals, this.t.stream, m);
        if (id !== null) this.index(id, !replaying);
        // A tombstone (`queue purge`) has done its work once read: only it was left of its request.
        if (id !== null && !this.rows.has(id) && m.subject === subject.state(this.t.stream, id)) {
          this.jsm.streams.purge(this.t.stream, { filter: m.subject }).catch(() => undefined);
        }
        if (replaying && m.info.pending === 0) {
          replaying = false;
          for (const r of this.rows.values()) if (r.state !== 'pending') r.body = null;
          caughtUp();
        }
      }
    })().catch((err: unknown) => this.log('warn', `reading stream ${this.t.stream} stopped: ${(err as Error).message}`));
    await ready;
  }

  /** Keeps the due and callback maps in step with a row another writer changed. */
  private index(id: string, live: boolean): void {
    const r = this.rows.get(id);
    this.pending.delete(id);
    this.callbacks.delete(id);
    if (!r) return;
    if (r.state === 'pending') {
      this.pending.set(id, r);
      if (live && !r.body) void this.loadBody(r);
    }
    if (r.cb_state === 'pending') this.callbacks.set(id, r);
  }

  /** A request made pending again (`queue retry`) after its body left memory: fetched from the stream. */
  private async loadBody(r: StreamRow): Promise<void> {
    try {
      const m = await this.jsm.streams.getMessage(this.t.stream, { last_by_subj: subject.req(this.t.stream, r.id) });
      r.body = decode(m.data)?.body ?? Buffer.alloc(0);
    } catch (err) {
      this.log('warn', `request ${r.id} is pending again but its body could not be read: ${(err as Error).message}`);
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        if (!this.closing) this.log('warn', `NATS connection lost (${String(s.data)}): async requests are refused (503) until it is back`);
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.log('info', `NATS connection back (${String(s.data)})`);
        this.resend();
      }
    }
  }

  private publish(subj: string, payload: Uint8Array): void {
    this.latest.set(subj, payload);
    if (!this.connected) return void this.unsent.set(subj, payload);
    const p = this.js.publish(subj, payload, { timeout: PUB_TIMEOUT_MS }).then(() => {
      if (this.latest.get(subj) === payload) this.latest.delete(subj);
    }, () => {
      this.failures++;
      if (this.latest.get(subj) === payload) this.unsent.set(subj, payload);
    });
    this.flights.add(p);
    void p.finally(() => this.flights.delete(p));
  }

  private resend(): void {
    if (!this.connected) return;
    const all = [...this.unsent];
    this.unsent.clear();
    for (const [subj, payload] of all) if (this.latest.get(subj) === payload) this.publish(subj, payload);
  }

  write(op: () => void, done?: (err?: Error) => void): void {
    op();
    this.flushCounters();
    if (!done) return;
    if (!this.flights.size) return void setImmediate(done);
    void Promise.allSettled([...this.flights]).then(() => done());
  }

  put(r: NewRequest, done: (err?: Error) => void): void {
    // Read from a journal again (a queue killed before its offset was kept): in already.
    if (this.rows.has(r.id)) return done();
    if (!ID_RE.test(r.id)) return done(new Error(`request id ${JSON.stringify(r.id.slice(0, 80))} is not a subject token`));
    if (!this.connected) return done(new Error(`the NATS server at ${this.t.servers.join(', ')} is not reachable (the queue is reconnecting)`));
    const json = { w: this.writer, id: r.id, kind: r.kind, target: r.target, name: r.name, fn: r.fn, caller: r.caller, headers: JSON.stringify(r.headers), query: r.query, callback: r.callback, createdAt: r.createdAt };
    const payload = encode(json, r.body);
    const max = this.nc.info?.max_payload ?? Infinity;
    if (payload.length > max) return done(new Error(`a request of ${payload.length} bytes is larger than the NATS server's max_payload (${max} bytes): raise max_payload in nats-server's config`));
    this.js.publish(subject.req(this.t.stream, r.id), payload, { msgID: r.id, timeout: PUB_TIMEOUT_MS, expect: { streamName: this.t.stream } }).then((ack) => {
      if (!this.rows.has(r.id)) {
        const row = newRow(ack.seq, r, json.headers);
        this.rows.set(r.id, row);
        this.pending.set(r.id, row);
        this.bump('accepted');
      }
      done();
    }, (err: Error) => {
      this.failures++;
      done(new Error(`NATS JetStream did not store it: ${err.message}`));
    });
  }

  /** Each row as `put`; the offset is kept in a file once all are acknowledged (journal-offsets.ts; put skips ids it has). */
  ingest(rows: NewRequest[], file: string, offset: number, done: (err?: Error) => void): void {
    const p = Promise.all(rows.map((r) => new Promise<void>((ok, no) => this.put(r, (err) => (err ? no(err) : ok())))));
    this.flights.add(p);
    p.then(() => done(void this.offsets.set(file, offset)), (err: Error) => done(err)).finally(() => this.flights.delete(p));
  }

  journalOffset = (file: string): number => this.offsets.get(file);
  barrier = (done: (err?: Error) => void): void => this.write(() => undefined, done);
  forgetJournal = (file: string): void => void this.offsets.delete(file);

  due(now: number, limit: number, running: Set<number>): RowWithBody[] {
    const out: RowWithBody[] = [];
    for (const r of this.pending.values()) {
      if (out.length >= limit) break;
      if (r.next_at <= now && r.body && !running.has(r.seq)) out.push(r as RowWithBody);
    }
    return out;
  }

  callbacksDue(now: number, limit: number, running: Set<string>): RowWithResult[] {
    const out: RowWithResult[] = [];
    for (const r of this.callbacks.values()) {
      if (out.length >= limit) break;
      if ((r.cb_next_at ?? 0) <= now && !running.has(r.id)) out.push(r);
    }
    return out;
  }

  async result(id: string): Promise<RowWithResult | undefined> {
    const r = this.rows.get(id);
    if (!r || r.status === null || r.result_body) return r;
    try {
      const m = await this.jsm.streams.getMessage(this.t.stream, { last_by_subj: subject.result(this.t.stream, id) });
      return { ...r, result_body: decode(m.data)?.body ?? null };
    } catch {
      return { ...r, result_body: null };
    }
  }

  finish(id: string, state: 'done' | 'dead', attempts: number, o: Outcome, hasCallback: boolean, now: number): void {
    const r = this.rows.get(id);
    if (!r || r.state !== 'pending') return;
    Object.assign(r, { state, attempts, finished_at: now, status: o.status, result_headers: o.headers, error: o.error, cb_state: hasCallback ? 'pending' : null, cb_attempts: 0, cb_next_at: hasCallback ? now : null, body: null });
    // The result body stays in memory only while its callback needs it; GET /async-result reads the stream.
    r.result_body = hasCallback ? o.body : null;
    this.index(id, false);
    this.publish(subject.result(this.t.stream, id), encode({ w: this.writer, state, attempts, finished_at: now, status: o.status, headers: o.headers, error: o.error, cb_state: r.cb_state, cb_attempts: 0, cb_next_at: r.cb_next_at }, o.body));
  }

  retryAt(id: string, attempts: number, at: number, error: string | null): void {
    const r = this.rows.get(id);
    if (!r || r.state !== 'pending') return;
    Object.assign(r, { attempts, next_at: at, error });
    this.pending.delete(id);
    this.pending.set(id, r);
    this.publish(subject.state(this.t.stream, id), encode(stateJson(r, this.writer)));
  }

  callbackOutcome(id: string, state: CallbackState, attempts: number, nextAt: number | null): void {
    const r = this.rows.get(id);
    if (!r) return;
    Object.assign(r, { cb_state: state, cb_attempts: attempts, cb_next_at: nextAt });
    if (state !== 'pending') r.result_body = null;
    this.index(id, false);
    this.publish(subject.state(this.t.stream, id), encode(stateJson(r, this.writer)));
  }

  bump(name: string, by = 1): void {
    this.totals[name] = (this.totals[name] ?? 0) + by;
    this.countersDirty = true;
    setImmediate(() => this.flushCounters());
  }

  private flushCounters(): void {
    if (!this.countersDirty) return;
    this.countersDirty = false;
    this.publish(subject.counters(this.t.stream), encode({ w: this.writer, ...this.totals }));
  }

  counters(): Record<string, number> {
    return { ...this.totals };
  }

  expire(now: number, keepMs: number): number {
    let n = 0;
    for (const [id, r] of this.rows) {
      if (r.state !== 'done' || (r.finished_at ?? now) >= now - keepMs || r.cb_state === 'pending') continue;
      this.rows.delete(id);
      this.index(id, false);
      n++;
      // Not purged (the server is away): it is read again at the next start and expired then.
      this.jsm.streams.purge(this.t.stream, { filter: subject.all(this.t.stream, id) }).catch(() => undefined);
    }
    return n;
  }

  depth(): { pending: number; oldest: number | null; dead: number; done: number } {
    return depthOf(this.rows, this.pending);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    this.flushCounters();
    await Promise.race([Promise.allSettled([...this.flights]), new Promise((r) => setTimeout(r, PUB_TIMEOUT_MS))]);
    await this.nc.drain().catch(() => this.nc.close());
  }
}
