// Runs accepted requests: each due request goes to the connected gateway with the fewest runs in
// flight (RUN), which calls the function exactly as for POST /function and answers with its reply
// (RAN). A 2xx-4xx answer is final; a 5xx (a handler that threw, a timeout, a crashed replica) or a
// 429 is tried again after the function's backoff until its retries or its maxAge run out, then
// the request is a dead letter. A run whose gateway went away was never answered: it is simply due
// again, not counted as a failure. Nothing here marks a request running in the store, so a killed
// queue process leaves every unfinished request pending: at-least-once.
import type { AsyncConfig } from '../../config/async.js';
import { backoffDelay, policyFor } from '../../config/async.js';
import { RUN } from './wire.js';
import type { GatewayConn } from './gateways.js';
import type { QueueStore, RowWithBody } from './store.js';

interface Run {
  row: RowWithBody;
  conn: GatewayConn;
  seq: number;
  deadline: number;
}

/** What a run's reply carried. */
export interface Ran {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

export class Dispatcher {
  private readonly running = new Map<string, Run>();
  /** Finished runs whose outcome is written but not yet committed: not due, whatever the store says. */
  private readonly settling = new Set<number>();
  private pumping = false;
  private readonly conns = new Set<GatewayConn>();
  private seq = 1;
  stopping = false;
  /** Runs whose reply came too late (past the backstop) or twice: ignored. */
  late = 0;

  constructor(
    private readonly store: QueueStore,
    private readonly cfg: AsyncConfig,
    /** Longest a run may take before the queue stops waiting for its gateway's answer. */
    private readonly backstopMs: number,
    private readonly finished: (hasCallback: boolean) => void,
  ) {}

  get inFlight(): number {
    return this.running.size;
  }

  get gateways(): number {
    return this.conns.size;
  }

  joined(c: GatewayConn): void {
    this.conns.add(c);
    this.pump();
  }

  /** The gateway's runs were not answered: due again at once (another gateway, or this one restarted). */
  gone(c: GatewayConn): void {
    this.conns.delete(c);
    for (const id of c.runs.values()) this.running.delete(id);
    c.runs.clear();
    setTimeout(() => this.pump(), 50).unref();
  }

  /**
   * Starts what is due, once per turn of the event loop however often it is asked. (Waiting a few
   * ms to batch runs measured worse at one connection: the runs then landed in the middle of the
   * client's next accept instead of in its round trip.)
   */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(() => {
      this.pumping = false;
      this.pumpNow();
    });
  }

  private pumpNow(): void {
    if (this.stopping || this.conns.size === 0) return;
    const free = this.cfg.concurrency - this.running.size;
    if (free <= 0) return;
    const now = Date.now();
    const busy = new Set(this.settling);
    for (const r of this.running.values()) busy.add(r.row.seq);
    for (const row of this.store.due(now, free, busy)) this.start(row, now);
  }

  private start(row: RowWithBody, now: number): void {
    let conn: GatewayConn | undefined;
    for (const c of this.conns) if (!conn || c.runs.size < conn.runs.size) conn = c;
    if (!conn) return;
    const seq = this.seq = (this.seq % 0xffffffff) + 1;
    const run: Run = { row, conn, seq, deadline: now + this.backstopMs };
    this.running.set(row.id, run);
    conn.runs.set(seq, row.id);
    conn.send(RUN, seq, { id: row.id, kind: row.kind, target: row.target, headers: safeJson(row.headers), query: row.query, attempt: row.attempts + 1, caller: row.caller }, row.body);
  }

  /** A gateway's answer to run `seq`. */
  ran(c: GatewayConn, seq: number, r: Ran): void {
    const id = c.runs.get(seq);
    if (id === undefined) return void this.late++;
    c.runs.delete(seq);
    const run = this.running.get(id);
    if (!run || run.seq !== seq) return void this.late++;
    this.running.delete(id);
    this.settle(run.row, r);
  }

  private settle(row: RowWithBody, r: Ran): void {
    this.settling.add(row.seq);
    this.outcome(row, r);
    this.store.write(() => undefined, () => {
      this.settling.delete(row.seq);
      this.pump();
    });
  }

  /** Runs past their backstop count as timeouts (their gateway, if it answers later, is ignored). */
  sweep(): void {
    const now = Date.now();
    for (const [id, run] of this.running) {
      if (run.deadline > now) continue;
      this.running.delete(id);
      run.conn.runs.delete(run.seq);
      this.settle(run.row, { status: 504, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ error: `no answer from the gateway within ${this.backstopMs} ms`, status: 504 })) });
    }
  }

  private outcome(row: RowWithBody, r: Ran): void {
    const now = Date.now();
    const retryable = r.status >= 500 || r.status === 429 || r.status < 100;
    const result = { status: r.status, headers: JSON.stringify(r.headers), body: r.body, error: retryable ? errorText(r) : null };
    if (!retryable) {
      this.store.finish(row.id, 'done', row.attempts + 1, result, row.callback !== null, now);
      this.store.bump('completed');
      return this.finished(row.callback !== null);
    }
    const attempts = row.attempts + 1;
    const p = policyFor(this.cfg, row.fn);
    const at = now + backoffDelay(this.cfg, p, attempts);
    if (attempts > p.retries || at > row.created_at + p.maxAgeMs) {
      this.store.finish(row.id, 'dead', attempts, result, row.callback !== null, now);
      this.store.bump('dead_letters');
      return this.finished(row.callback !== null);
    }
    this.store.retryAt(row.id, attempts, at, result.error);
    this.store.bump('retries');
  }
}

function errorText(r: Ran): string {
  const text = r.body.subarray(0, 300).toString('utf8');
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j.error === 'string') return `${r.status}: ${j.error}`;
  } catch {
    // not JSON: the text itself
  }
  return `${r.status}: ${text}`;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return [];
  }
}
