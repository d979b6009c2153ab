// What `faasflow queue …` reads and changes: the instance's queue wherever async.store keeps it,
// as the note the queue process leaves in the state directory says. SQLite is opened directly (WAL
// lets the CLI read and write beside the running queue process, which picks a retried request up
// within its next tick); a NATS JetStream stream is read and written on its server (the running
// queue follows the stream). No running instance is needed either way.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { FaasflowError } from '../common/errors.js';
import { stateDirFor, stateFiles } from '../common/state-dir.js';
import type { Row } from '../runtime/queue/store.js';
import { LIST_COLUMNS, openQueueDb } from '../runtime/queue/sqlite-store.js';
import { readStoreNote } from '../runtime/queue/open-store.js';
import { JetStreamAdmin } from '../runtime/queue/jetstream-admin.js';
import { OFFSETS_FILE, loadOffsets, saveOffsets } from '../runtime/queue/journal-offsets.js';
import { readJournals, type JournalTail } from './queue-journals.js';

export type QueueFilter = 'pending' | 'done' | 'dead' | 'all';

/** The same operations over either store. */
export interface QueueAdmin {
  counts(): Record<string, number>;
  list(state: QueueFilter, limit: number): Row[];
  get(id: string): (Row & { body: Buffer; result_body: Buffer | null }) | undefined;
  /** Requests only in the gateways' journals (read-only: for a queue not running), as pending rows. */
  journaled(): Row[];
  retry(ids: string[] | 'dead'): Promise<number>;
  /**
   * Removes dead letters and finished results (`pending`: also requests not run yet); `journals`
   * (with `pending`, the queue not running): also the requests only in the gateways' journals.
   */
  purge(pending: boolean, journals?: boolean): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function openQueue(instance: string, write = false): Promise<QueueAdmin> {
  const stateDir = stateDirFor(instance);
  const note = readStoreNote(stateDir);
  if (note.kind === 'nats') {
    try {
      const a = await JetStreamAdmin.open(note);
      return { counts: () => a.counts(), list: (s, n) => a.list(s, n), get: (id) => a.get(id), journaled: () => {
        const offsets = loadOffsets(path.join(stateDir, OFFSETS_FILE));
        return pendingRows(readJournals(stateFiles(stateDir).journal, (n) => offsets.get(n) ?? 0), (id) => a.get(id) !== undefined);
      }, retry: (ids) => a.retry(ids), close: () => a.close(), purge: (pending, journals) => purgeJetStream(a, pending, stateDir, journals === true) };
    } catch (err) {
      throw Object.assign(new FaasflowError('USAGE', `instance ${instance} keeps its async queue in NATS JetStream (stream ${note.stream}): ${(err as Error).message}`), { cause: err });
    }
  }
  const file = stateFiles(stateDir).queue;
  if (!fs.existsSync(file)) throw new FaasflowError('USAGE', `instance ${instance} has no async queue (${file} does not exist): its config has no \`async\`, or it never ran with one`);
  const db = openQueueDb(file, !write);
  return {
    counts: () => countByState(db),
    list: (state, limit) => listRequests(db, state, limit),
    get: (id) => getRequest(db, id),
    journaled: () => pendingRows(readJournals(stateFiles(stateDir).journal, (n) => journalOffset(db, n)), (id) => db.prepare('SELECT 1 FROM requests WHERE id = ?').get(id) !== undefined),
    retry: (ids) => Promise.resolve(retryRequests(db, ids)),
    purge: (pending, journals) => Promise.resolve(purgeRequests(db, pending, pending && journals ? readJournals(stateFiles(stateDir).journal, (n) => journalOffset(db, n)) : [])),
    close: () => Promise.resolve(void db.close()),
  };
}

function listRequests(db: Database.Database, state: QueueFilter, limit: number): Row[] {
  const where = state === 'all' ? '' : 'WHERE state = ?';
  const stmt = db.prepare(`SELECT ${LIST_COLUMNS} FROM requests ${where} ORDER BY seq DESC LIMIT ?`);
  return (state === 'all' ? stmt.all(limit) : stmt.all(state, limit)) as Row[];
}

function countByState(db: Database.Database): Record<string, number> {
  const rows = db.prepare('SELECT state, count(*) AS n FROM requests GROUP BY state').all() as { state: string; n: number }[];
  return { pending: 0, done: 0, dead: 0, ...Object.fromEntries(rows.map((r) => [r.state, r.n])) };
}

function getRequest(db: Database.Database, id: string): (Row & { body: Buffer; result_body: Buffer | null }) | undefined {
  return db.prepare(`SELECT ${LIST_COLUMNS}, body, result_body FROM requests WHERE id = ?`).get(id) as (Row & { body: Buffer; result_body: Buffer | null }) | undefined;
}

/** Makes finished (dead or done) requests pending again, from attempt 1; returns how many. */
function retryRequests(db: Database.Database, ids: string[] | 'dead'): number {
  const set = "SET state = 'pending', attempts = 0, next_at = ?, created_at = ?, finished_at = NULL, status = NULL, result_headers = NULL, result_body = NULL, cb_state = NULL, cb_attempts = 0, cb_next_at = NULL";
  const now = Date.now();
  if (ids === 'dead') return db.prepare(`UPDATE requests ${set} WHERE state = 'dead'`).run(now, now).changes;
  const one = db.prepare(`UPDATE requests ${set} WHERE id = ? AND state != 'pending'`);
  return db.transaction(() => ids.reduce((n, id) => n + one.run(now, now, id).changes, 0))();
}

/** The journals' requests not in the store (`stored`), once each, newest first, as `queue ls` shows a pending row. */
function pendingRows(tails: JournalTail[], stored: (id: string) => boolean): Row[] {
  const rows = new Map<string, Row>();
  for (const r of tails.flatMap((t) => t.requests)) {
    if (rows.has(r.id) || stored(r.id)) continue;
    rows.set(r.id, {
      seq: 0, id: r.id, kind: r.kind, target: r.target, name: r.name, fn: r.fn, caller: r.caller, headers: JSON.stringify(r.headers), query: r.query, callback: r.callback,
      state: 'pending', attempts: 0, next_at: r.createdAt, created_at: r.createdAt, finished_at: null, status: null, result_headers: null, error: null, cb_state: null, cb_attempts: 0, cb_next_at: null,
    });
  }
  return [...rows.values()].sort((a, b) => b.created_at - a.created_at);
}

function journalOffset(db: Database.Database, name: string): number {
  return (db.prepare('SELECT offset FROM journals WHERE name = ?').pluck().get(name) as number | undefined) ?? 0;
}

/**
 * Removes dead letters and finished results (`pending`: also requests not run yet, and those in
 * `tails`, read from the journals of a queue not running: their offsets move past them in the same
 * transaction, so the next start does not read them in; records written after they were read are).
 */
function purgeRequests(db: Database.Database, pending: boolean, tails: JournalTail[]): Record<string, number> {
  const known = db.prepare('SELECT 1 FROM requests WHERE id = ?').pluck();
  const offset = db.prepare('INSERT INTO journals (name, offset) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET offset = max(offset, excluded.offset)');
  return db.transaction(() => {
    const before = countByState(db);
    let journaled = 0;
    for (const t of tails) {
      journaled += new Set(t.requests.filter((r) => known.get(r.id) === undefined).map((r) => r.id)).size;
      offset.run(t.name, t.end);
    }
    db.prepare(`DELETE FROM requests WHERE state IN ('dead', 'done'${pending ? ", 'pending'" : ''})`).run();
    return { dead: before.dead, done: before.done, pending: pending ? before.pending + journaled : 0 };
  })();
}

/**
 * As purgeRequests, on a JetStream store (`journals`: the queue not running). The offsets file the
 * queue keeps for it (queue/journal-offsets.ts) moves past what was read here, after the stream's
 * requests are gone: records written after the read are read in at the queue's next start.
 */
async function purgeJetStream(a: JetStreamAdmin, pending: boolean, stateDir: string, journals: boolean): Promise<Record<string, number>> {
  const file = path.join(stateDir, OFFSETS_FILE);
  const offsets = loadOffsets(file);
  const tails = pending && journals ? readJournals(stateFiles(stateDir).journal, (n) => offsets.get(n) ?? 0) : [];
  const journaled = new Set(tails.flatMap((t) => t.requests).filter((r) => !a.get(r.id)).map((r) => r.id)).size;
  const removed = await a.purge(pending);
  if (tails.length) {
    for (const t of tails) offsets.set(t.name, Math.max(t.end, offsets.get(t.name) ?? 0));
    saveOffsets(file, offsets);
  }
  return { ...removed, pending: removed.pending + journaled };
}
