// What `faasflow queue …` reads and changes: the instance's queue database in its state directory,
// opened directly (SQLite in WAL mode lets the CLI read and write beside the running queue process,
// which picks a retried request up within its next tick). No running instance is needed.
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { FaasflowError } from '../common/errors.js';
import { stateDirFor, stateFiles } from '../common/state-dir.js';
import { LIST_COLUMNS, openQueueDb, type Row } from '../runtime/queue/store.js';

export function openQueue(instance: string, write = false): Database.Database {
  const file = stateFiles(stateDirFor(instance)).queue;
  if (!fs.existsSync(file)) throw new FaasflowError('USAGE', `instance ${instance} has no async queue (${file} does not exist): its config has no \`async\`, or it never ran with one`);
  return openQueueDb(file, !write);
}

export type QueueFilter = 'pending' | 'done' | 'dead' | 'all';

export function listRequests(db: Database.Database, state: QueueFilter, limit: number): Row[] {
  const where = state === 'all' ? '' : 'WHERE state = ?';
  const stmt = db.prepare(`SELECT ${LIST_COLUMNS} FROM requests ${where} ORDER BY seq DESC LIMIT ?`);
  return (state === 'all' ? stmt.all(limit) : stmt.all(state, limit)) as Row[];
}

export function countByState(db: Database.Database): Record<string, number> {
  const rows = db.prepare('SELECT state, count(*) AS n FROM requests GROUP BY state').all() as { state: string; n: number }[];
  return { pending: 0, done: 0, dead: 0, ...Object.fromEntries(rows.map((r) => [r.state, r.n])) };
}

export function getRequest(db: Database.Database, id: string): (Row & { body: Buffer; result_body: Buffer | null }) | undefined {
  return db.prepare(`SELECT ${LIST_COLUMNS}, body, result_body FROM requests WHERE id = ?`).get(id) as (Row & { body: Buffer; result_body: Buffer | null }) | undefined;
}

/** Makes finished (dead or done) requests pending again, from attempt 1; returns how many. */
export function retryRequests(db: Database.Database, ids: string[] | 'dead'): number {
  const set = "SET state = 'pending', attempts = 0, next_at = ?, created_at = ?, finished_at = NULL, status = NULL, result_headers = NULL, result_body = NULL, cb_state = NULL, cb_attempts = 0, cb_next_at = NULL";
  const now = Date.now();
  if (ids === 'dead') return db.prepare(`UPDATE requests ${set} WHERE state = 'dead'`).run(now, now).changes;
  const one = db.prepare(`UPDATE requests ${set} WHERE id = ? AND state != 'pending'`);
  return db.transaction(() => ids.reduce((n, id) => n + one.run(now, now, id).changes, 0))();
}

/** Removes dead letters and finished results (`pending`: also requests not run yet). */
export function purgeRequests(db: Database.Database, pending: boolean): Record<string, number> {
  const before = countByState(db);
  db.prepare(`DELETE FROM requests WHERE state IN ('dead', 'done'${pending ? ", 'pending'" : ''})`).run();
  return { dead: before.dead, done: before.done, pending: pending ? before.pending : 0 };
}
