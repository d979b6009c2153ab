// The async queue's default store: one SQLite database (better-sqlite3) in the instance's state
// directory, in WAL mode. With async.durability 'power' a commit holding an accepted request runs
// with synchronous=FULL (an fsync: it survives a power cut); with 'process', and for commits of
// results only, synchronous=NORMAL (no fsync: it survives a killed process, which is all a WAL
// needs for that). Writes are grouped: everything asked for during one turn of the event loop
// commits in one transaction (one fsync), and only then are the callers told: a 202 waits for its
// commit, and costs a share of one fsync, not one each.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

import type { CallbackState, NewRequest, Outcome, QueueStore, RowWithBody, RowWithResult } from './store.js';
import type { Durability } from '../../config/async.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS requests (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  name TEXT NOT NULL,
  fn INTEGER NOT NULL,
  caller TEXT NOT NULL,
  headers TEXT NOT NULL,
  query TEXT NOT NULL,
  body BLOB NOT NULL,
  callback TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  status INTEGER,
  result_headers TEXT,
  result_body BLOB,
  error TEXT,
  cb_state TEXT,
  cb_attempts INTEGER NOT NULL DEFAULT 0,
  cb_next_at INTEGER
);
CREATE INDEX IF NOT EXISTS requests_due ON requests (state, next_at);
CREATE INDEX IF NOT EXISTS requests_callbacks ON requests (cb_state, cb_next_at);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS journals (name TEXT PRIMARY KEY, offset INTEGER NOT NULL);
`;

/** The columns a listing shows (no bodies). */
export const LIST_COLUMNS = 'seq, id, kind, target, name, fn, caller, headers, query, callback, state, attempts, next_at, created_at, finished_at, status, result_headers, error, cb_state, cb_attempts, cb_next_at';

export function openQueueDb(file: string, readonly = false): Database.Database {
  if (!readonly) fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file, { readonly, fileMustExist: readonly });
  db.pragma('busy_timeout = 5000');
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(SCHEMA);
    fs.chmodSync(file, 0o600);
  }
  return db;
}

export class SqliteStore implements QueueStore {
  readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly ops: (() => void)[] = [];
  /** A write in this turn's batch needs the fsync (an accepted request); results alone do not. */
  private durable = false;
  private synchronous: 'FULL' | 'NORMAL' = 'FULL';
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly after: ((err?: Error) => void)[] = [];
  private scheduled = false;
  /** Commits that failed (a full disk): each one's callers were told. */
  failures = 0;

  readonly where: string;

  constructor(file: string, private readonly durability: Durability = 'power') {
    this.db = openQueueDb(file);
    this.where = `SQLite ${file} (durability ${durability}: ${durability === 'power' ? 'synchronous=FULL for accepts, an fsync per group commit' : 'synchronous=NORMAL, no fsync per commit'})`;
    // A second copy of an id (a schedule's slot sent twice: its id is the slot's) is already in: a
    // no-op, not an error that would roll back everything else committed in the same transaction.
    this.insert = this.db.prepare(`INSERT INTO requests (id, kind, target, name, fn, caller, headers, query, body, callback, state, attempts, next_at, created_at)
      VALUES (@id, @kind, @target, @name, @fn, @caller, @headers, @query, @body, @callback, 'pending', 0, @createdAt, @createdAt) ON CONFLICT(id) DO NOTHING`);
  }

  /** A prepared statement, made once. */
  private st(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /**
   * Queues a write for this turn's transaction; `done` runs after the commit (with its error if it
   * failed). `durable`: the commit fsyncs (synchronous=FULL) before `done`; otherwise a power cut
   * may lose it (a process kill cannot), which for a result only means the request runs again.
   */
  write(op: () => void, done?: (err?: Error) => void, durable = false): void {
    this.ops.push(op);
    if (durable && this.durability === 'power') this.durable = true;
    if (done) this.after.push(done);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.commit());
    }
  }

  /** PRAGMA synchronous as read inside the first commit that held an accepted request (2 FULL, 1 NORMAL). */
  acceptSynchronous: number | undefined;

  put(r: NewRequest, done: (err?: Error) => void): void {
    this.write(() => {
      this.accept([r]);
      this.acceptSynchronous ??= this.synchronousNow();
    }, done, true);
  }

  /** Inserts the rows not in yet and counts those as accepted (inside the caller's transaction). */
  private accept(rows: NewRequest[]): void {
    let n = 0;
    for (const r of rows) n += this.insert.run({ ...r, headers: JSON.stringify(r.headers) }).changes;
    if (n) this.st('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value').run('accepted', n);
  }

  /** An offset never moves back: `queue purge --pending` with the queue stopped may have moved it past what this process read. */
  ingest(rows: NewRequest[], file: string, offset: number, done: (err?: Error) => void): void {
    this.write(() => {
      this.accept(rows);
      this.st('INSERT INTO journals (name, offset) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET offset = max(offset, excluded.offset)').run(file, offset);
    }, done);
  }

  journalOffset(file: string): number {
    return (this.st('SELECT offset FROM journals WHERE name = ?').pluck().get(file) as number | undefined) ?? 0;
  }

  /** A commit with synchronous=FULL (with 'power'): it makes every NORMAL commit before it durable too. */
  barrier(done: (err?: Error) => void): void {
    this.write(() => undefined, done, true);
  }

  forgetJournal(file: string): void {
    this.write(() => this.st('DELETE FROM journals WHERE name = ?').run(file));
  }

  /** What the connection's synchronous pragma reads now (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA). */
  synchronousNow(): number {
    return this.db.pragma('synchronous', { simple: true }) as number;
  }

  /** Runs every queued write in one transaction, then tells each caller. */
  commit(): void {
    this.scheduled = false;
    const ops = this.ops.splice(0);
    const after = this.after.splice(0);
    if (!ops.length) return;
    const sync = this.durable ? 'FULL' : 'NORMAL';
    this.durable = false;
    if (sync !== this.synchronous) {
      this.db.pragma(`synchronous = ${sync}`);
      this.synchronous = sync;
    }
    let error: Error | undefined;
    try {
      this.db.transaction(() => {
        for (const op of ops) op();
      })();
    } catch (err) {
      error = err as Error;
      this.failures++;
    }
    for (const a of after) a(error);
  }

  /**
   * Requests due now that are not running, oldest first. The index alone finds them (seq is the
   * rowid), so the rows already running cost no read of their bodies.
   */
  due(now: number, limit: number, running: Set<number>): RowWithBody[] {
    const seqs = (this.st("SELECT seq FROM requests WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, seq LIMIT ?").pluck().all(now, limit + running.size) as number[]).filter((q) => !running.has(q)).slice(0, limit);
    const one = this.st(`SELECT ${LIST_COLUMNS}, body FROM requests WHERE seq = ?`);
    return seqs.map((q) => one.get(q) as RowWithBody | undefined).filter((r): r is RowWithBody => r !== undefined);
  }

  callbacksDue(now: number, limit: number, running: Set<string>): RowWithResult[] {
    const rows = this.st(`SELECT ${LIST_COLUMNS}, result_body FROM requests WHERE cb_state = 'pending' AND cb_next_at <= ? ORDER BY cb_next_at, seq LIMIT ?`).all(now, limit + running.size) as RowWithResult[];
    return rows.filter((r) => !running.has(r.id)).slice(0, limit);
  }

  get(id: string): RowWithResult | undefined {
    return this.st(`SELECT ${LIST_COLUMNS}, result_body FROM requests WHERE id = ?`).get(id) as RowWithResult | undefined;
  }

  result(id: string): Promise<RowWithResult | undefined> {
    return Promise.resolve(this.get(id));
  }

  /** A final answer (done or dead): the result is kept, a callback is due if one was asked for. */
  finish(id: string, state: 'done' | 'dead', attempts: number, r: Outcome, hasCallback: boolean, now: number): void {
    this.write(() => this.st(`UPDATE requests SET state = ?, attempts = ?, finished_at = ?, status = ?, result_headers = ?, result_body = ?, error = ?,
      cb_state = ?, cb_next_at = ? WHERE id = ? AND state = 'pending'`).run(state, attempts, now, r.status, r.headers, r.body, r.error, hasCallback ? 'pending' : null, hasCallback ? now : null, id));
  }

  /** Tried again at `at`; `attempts` counts the tries that failed. */
  retryAt(id: string, attempts: number, at: number, error: string | null): void {
    this.write(() => this.st(`UPDATE requests SET attempts = ?, next_at = ?, error = ? WHERE id = ? AND state = 'pending'`).run(attempts, at, error, id));
  }

  callbackOutcome(id: string, state: CallbackState, attempts: number, nextAt: number | null): void {
    this.write(() => this.st('UPDATE requests SET cb_state = ?, cb_attempts = ?, cb_next_at = ? WHERE id = ?').run(state, attempts, nextAt, id));
  }

  bump(name: string, by = 1): void {
    this.write(() => this.st('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value').run(name, by));
  }

  counters(): Record<string, number> {
    return Object.fromEntries((this.st('SELECT name, value FROM counters').all() as { name: string; value: number }[]).map((r) => [r.name, r.value]));
  }

  /** Finished results older than `keepMs` whose callback (if any) is settled. Dead letters stay. */
  expire(now: number, keepMs: number): number {
    return this.st("DELETE FROM requests WHERE state = 'done' AND finished_at < ? AND (cb_state IS NULL OR cb_state != 'pending')").run(now - keepMs).changes;
  }

  depth(): { pending: number; oldest: number | null; dead: number; done: number } {
    const p = this.st("SELECT count(*) AS n, min(created_at) AS oldest FROM requests WHERE state = 'pending'").get() as { n: number; oldest: number | null };
    const d = this.st("SELECT sum(state = 'dead') AS dead, sum(state = 'done') AS done FROM requests WHERE state != 'pending'").get() as { dead: number | null; done: number | null };
    return { pending: p.n, oldest: p.oldest, dead: d.dead ?? 0, done: d.done ?? 0 };
  }

  close(): Promise<void> {
    this.durable = true;
    this.commit();
    this.db.close();
    return Promise.resolve();
  }
}

