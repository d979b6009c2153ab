// What `faasflow queue …` reads and changes: the instance's queue wherever async.store keeps it,
// as the note the queue process leaves in the state directory says. SQLite is opened directly (WAL
// lets the CLI read and write beside the running queue process, which picks a retried request up
// within its next tick); a NATS JetStream stream is read and written on its server (the running
// queue follows the stream). No running instance is needed either way.
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { FaasflowError } from '../common/errors.js';
import { stateDirFor, stateFiles } from '../common/state-dir.js';
import type { Row } from '../runtime/queue/store.js';
import { LIST_COLUMNS, openQueueDb } from '../runtime/queue/sqlite-store.js';
import { readStoreNote } from '../runtime/queue/open-store.js';
import { JetStreamAdmin } from '../runtime/queue/jetstream-admin.js';

export type QueueFilter = 'pending' | 'done' | 'dead' | 'all';

/** The same operations over either store. */
export interface QueueAdmin {
  counts(): Record<string, number>;
  list(state: QueueFilter, limit: number): Row[];
  get(id: string): (Row & { body: Buffer; result_body: Buffer | null }) | undefined;
  retry(ids: string[] | 'dead'): Promise<number>;
  purge(pending: boolean): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function openQueue(instance: string, write = false): Promise<QueueAdmin> {
  const stateDir = stateDirFor(instance);
  const note = readStoreNote(stateDir);
  if (note.kind === 'nats') {
    try {
      return await JetStreamAdmin.open(note);
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
    retry: (ids) => Promise.resolve(retryRequests(db, ids)),
    purge: (pending) => Promise.resolve(purgeRequests(db, pending)),
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

/** Removes dead letters and finished results (`pending`: also requests not run yet). */
function purgeRequests(db: Database.Database, pending: boolean): Record<string, number> {
  const before = countByState(db);
  db.prepare(`DELETE FROM requests WHERE state IN ('dead', 'done'${pending ? ", 'pending'" : ''})`).run();
  return { dead: before.dead, done: before.done, pending: pending ? before.pending : 0 };
}
