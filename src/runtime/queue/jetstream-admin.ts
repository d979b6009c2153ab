// `faasflow queue …` on a queue kept in NATS JetStream: reads the instance's stream from its start
// (as the queue process does at start) and changes requests by publishing to it, as writer 'cli'.
// A running queue process follows the stream and applies those changes within moments; a stopped
// one finds them when it next reads the stream. No running instance is needed either way.
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { consumerOpts } from 'nats';
import type { Row } from './store.js';
import { apply, connectTo, encode, manager, stateJson, subject, type NatsTarget, type StreamRow } from './jetstream-stream.js';

const WRITER = 'cli';

/** Runs `fn` over `items` at most 64 at a time: thousands of API requests at once would time out. */
async function inBatches<T>(items: T[], fn: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 64) await Promise.all(items.slice(i, i + 64).map(fn));
}

export class JetStreamAdmin {
  private readonly rows = new Map<string, StreamRow>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
  ) {}

  static async open(t: NatsTarget): Promise<JetStreamAdmin> {
    const nc = await connectTo(t.servers, 'faasflow-queue-cli');
    try {
      const jsm = await manager(nc, t.servers);
      const info = await jsm.streams.info(t.stream).catch((err: Error) => {
        throw new Error(`the NATS server at ${t.servers.join(', ')} has no stream ${t.stream} (${err.message}): the queue creates it at \`up\``, { cause: err });
      });
      const a = new JetStreamAdmin(nc, nc.jetstream({ timeout: 5000 }), jsm, t.stream);
      if (info.state.messages > 0) await a.load();
      return a;
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /** Every message of the stream, applied in order, until none is pending. */
  private async load(): Promise<void> {
    const o = consumerOpts();
    o.orderedConsumer();
    o.deliverAll();
    const messages = await this.js.subscribe(`${this.stream}.>`, o);
    const counters: Record<string, number> = {};
    for await (const m of messages) {
      apply(this.rows, counters, this.stream, m);
      if (m.info.pending === 0) break;
    }
    messages.unsubscribe();
  }

  counts(): Record<string, number> {
    const c: Record<string, number> = { pending: 0, done: 0, dead: 0 };
    for (const r of this.rows.values()) c[r.state]++;
    return c;
  }

  list(state: 'pending' | 'done' | 'dead' | 'all', limit: number): Row[] {
    return [...this.rows.values()].filter((r) => state === 'all' || r.state === state).sort((a, b) => b.seq - a.seq).slice(0, limit).map(({ body: _b, result_body: _r, ...row }) => row);
  }

  get(id: string): (Row & { body: Buffer; result_body: Buffer | null }) | undefined {
    const r = this.rows.get(id);
    return r && { ...r, body: r.body ?? Buffer.alloc(0) };
  }

  /** Finished requests pending again from attempt 1, same id; returns how many. */
  async retry(ids: string[] | 'dead'): Promise<number> {
    const now = Date.now();
    const rows = ids === 'dead' ? [...this.rows.values()].filter((r) => r.state === 'dead') : ids.map((id) => this.rows.get(id)).filter((r): r is StreamRow => !!r && r.state !== 'pending');
    await inBatches(rows, async (r) => {
      Object.assign(r, { state: 'pending', attempts: 0, next_at: now, created_at: now, finished_at: null, error: null, cb_state: null, cb_attempts: 0, cb_next_at: null });
      await this.js.publish(subject.state(this.stream, r.id), encode(stateJson(r, WRITER, true)));
      // The old result: after the state above in the stream, so gone from the next read either way.
      await this.jsm.streams.purge(this.stream, { filter: subject.result(this.stream, r.id) });
    });
    return rows.length;
  }

  /** Removes dead letters and finished results (`pending`: also requests not run yet). */
  async purge(pending: boolean): Promise<Record<string, number>> {
    const before = this.counts();
    const gone = [...this.rows.values()].filter((r) => r.state !== 'pending' || pending);
    await inBatches(gone, async (r) => {
      // A tombstone first: a running queue drops the request from memory when it reads it.
      await this.js.publish(subject.state(this.stream, r.id), encode({ w: WRITER, state: 'purged' }));
      await this.jsm.streams.purge(this.stream, { filter: subject.req(this.stream, r.id) });
      await this.jsm.streams.purge(this.stream, { filter: subject.result(this.stream, r.id) });
    });
    return { dead: before.dead, done: before.done, pending: pending ? before.pending : 0 };
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }
}
