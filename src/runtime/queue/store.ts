// What the async queue needs from the place it keeps requests, whichever it is: SQLite in the
// state directory (sqlite-store.ts, the default) or a NATS JetStream stream (jetstream-store.ts).
// Reads are synchronous, answered from what the store holds at hand; writes are queued and their
// callers told once they are durable (`put`) or committed (`write`'s barrier). Nothing here marks a
// request running, so a killed queue process leaves every unfinished request pending: at-least-once.

export type State = 'pending' | 'done' | 'dead';
export type CallbackState = 'pending' | 'done' | 'failed';

/** What a request is, as accepted and as stored. */
interface RequestFields {
  id: string;
  kind: 'function' | 'flow';
  /** A function's id (as text) or a flow's name. */
  target: string;
  /** The function's or flow's name, for `queue ls`. */
  name: string;
  fn: number;
  caller: string;
  query: string;
  callback: string | null;
}

export interface NewRequest extends RequestFields {
  headers: [string, string][];
  body: Buffer;
  createdAt: number;
}

/** A stored request (headers as JSON text), without its body. */
export interface Row extends RequestFields {
  seq: number;
  headers: string;
  state: State;
  attempts: number;
  next_at: number;
  created_at: number;
  finished_at: number | null;
  status: number | null;
  result_headers: string | null;
  error: string | null;
  cb_state: CallbackState | null;
  cb_attempts: number;
  cb_next_at: number | null;
}

export interface RowWithBody extends Row {
  body: Buffer;
}

export type RowWithResult = Row & { result_body: Buffer | null };

/** A final answer: status, headers (JSON text), body, and the error a retryable one carried. */
export interface Outcome {
  status: number;
  headers: string;
  body: Buffer | null;
  error: string | null;
}

export interface QueueStore {
  /** Writes that failed (a full disk, an unreachable server): each one's callers were told. */
  readonly failures: number;
  /** One line for the log: where the requests are kept, and how durably. */
  readonly where: string;
  /**
   * Queues a write; `done` runs once it and every write queued before it are committed (with the
   * error if that failed). `durable`: committed as `async.durability` says an accepted request is.
   */
  write(op: () => void, done?: (err?: Error) => void, durable?: boolean): void;
  /**
   * Stores an accepted request (a second copy of an id is a no-op; 'accepted' counts only new
   * rows); `done` runs once it is durable (the 202), or with why not (a 503).
   */
  put(r: NewRequest, done: (err?: Error) => void): void;
  /**
   * Stores requests read from a gateway's journal and the offset in `file` past them, in one
   * transaction (so a restarted queue resumes there); `done` once committed. Not fsync'd: the
   * journal keeps them until `barrier` says the store's copy is durable.
   */
  ingest(rows: NewRequest[], file: string, offset: number, done: (err?: Error) => void): void;
  /** Where reading a journal resumes: the offset past its last ingested record (0: none yet). */
  journalOffset(file: string): number;
  /** `done` once everything written before it is as durable as async.durability says. */
  barrier(done: (err?: Error) => void): void;
  /** A journal file removed: its offset is not needed any more. */
  forgetJournal(file: string): void;
  /** Requests due now whose seq is not in `running`, oldest first. */
  due(now: number, limit: number, running: Set<number>): RowWithBody[];
  callbacksDue(now: number, limit: number, running: Set<string>): RowWithResult[];
  /** A request and its result, for GET /async-result/<id>. */
  result(id: string): Promise<RowWithResult | undefined>;
  /** A final answer (done or dead): the result is kept, a callback is due if one was asked for. */
  finish(id: string, state: 'done' | 'dead', attempts: number, r: Outcome, hasCallback: boolean, now: number): void;
  /** Tried again at `at`; `attempts` counts the tries that failed. */
  retryAt(id: string, attempts: number, at: number, error: string | null): void;
  callbackOutcome(id: string, state: CallbackState, attempts: number, nextAt: number | null): void;
  bump(name: string, by?: number): void;
  counters(): Record<string, number>;
  /** Drops finished results older than `keepMs` whose callback (if any) is settled; dead letters stay. */
  expire(now: number, keepMs: number): number;
  depth(): { pending: number; oldest: number | null; dead: number; done: number };
  close(): Promise<void>;
}
