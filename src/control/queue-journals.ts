// The gateways' journals as `faasflow queue purge` and `queue ls` see them: a request a gateway
// accepted (its 202 sent) may still be only in a journal (queue/journal-format.ts), not yet in the
// store. A running queue is asked to read them all in first (INGEST on its socket); a stopped
// one's journals are read here, read-only, from the offsets its store keeps. The bytes are read as
// the queue reads them: hostile, one bounded record at a time, stopping at anything not a record.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { instanceFiles, runtimeDirFor } from '../common/paths.js';
import { lastLocation } from './location.js';
import { ACK, FrameReader, HELLO, INGEST, MAX_JSON, encodeFrame } from '../runtime/queue/wire.js';
import { HEAD, parseJournalName, parseRecords } from '../runtime/queue/journal-format.js';
import { requestOf } from '../runtime/queue/journal-ingest.js';
import type { NewRequest } from '../runtime/queue/store.js';

/** How long the running queue may take to read and commit every journal. */
const INGEST_TIMEOUT_MS = 30_000;
/** The largest body any record may carry: a packet class is at most this (the reader's only bound here). */
const MAX_BODY = 256 << 20;

/**
 * Asks the instance's running queue to read every journal into its store and commit: true once
 * it has; false if no queue runs (nothing listens on its socket). Anything else is an error.
 */
export function ingestViaQueue(instance: string): Promise<boolean> {
  const files = instanceFiles(lastLocation(instance) ?? runtimeDirFor(instance));
  let token: string;
  try {
    token = fs.readFileSync(files.token, 'utf8').trim();
  } catch {
    // No token: the instance is not up, so neither is its queue.
    return Promise.resolve(false);
  }
  return new Promise((resolve, reject) => {
    const s = net.createConnection(files.queueSocket);
    const timer = setTimeout(() => finish(new Error(`the async queue did not read the journals within ${INGEST_TIMEOUT_MS / 1000} s`)), INGEST_TIMEOUT_MS);
    let connected = false;
    const finish = (r: boolean | Error) => {
      clearTimeout(timer);
      s.destroy();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const reader = new FrameReader(MAX_JSON, (f) => {
      if (f.type !== ACK || f.seq !== 1) return;
      finish(f.json.ok === true ? true : new Error(`the async queue could not store its journals: ${typeof f.json.error === 'string' ? f.json.error : 'no reason given'}`));
    }, (why) => finish(new Error(`the async queue sent ${why}`)));
    s.on('connect', () => {
      connected = true;
      // A producer's HELLO: the queue hands this connection no runs.
      for (const b of [...encodeFrame(HELLO, 0, { token, runs: false }), ...encodeFrame(INGEST, 1, {})]) s.write(b);
    });
    s.on('data', (c: Buffer) => reader.push(c));
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) finish(false);
      else finish(new Error(`the async queue's socket: ${err.message}`));
    });
    s.on('close', () => finish(new Error('the async queue closed the connection before it answered')));
  });
}

export interface JournalTail {
  /** The journal's name in <state dir>/journal. */
  name: string;
  /** Past the last complete record: where a reader resumes once these requests are accounted for. */
  end: number;
  requests: NewRequest[];
}

/** The requests in each journal of `dir` past the offset `from` gives, read-only; stops at a torn or foreign record. */
export function readJournals(dir: string, from: (name: string) => number): JournalTail[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => parseJournalName(n));
  } catch {
    return [];
  }
  const out: JournalTail[] = [];
  for (const name of names) {
    let fd: number;
    try {
      fd = fs.openSync(path.join(dir, name), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch {
      continue;
    }
    try {
      out.push(readTail(fd, name, from(name)));
    } finally {
      fs.closeSync(fd);
    }
  }
  return out;
}

function readTail(fd: number, name: string, start: number): JournalTail {
  const head = Buffer.allocUnsafe(HEAD);
  const requests: NewRequest[] = [];
  const now = Date.now();
  let pos = start;
  // A header's length is also bounded by the bytes the file has: no allocation past them.
  const size = fs.fstatSync(fd).size;
  for (;;) {
    // The header first: its lengths are bounded (parseRecords) before the record is read whole.
    const h = parseRecords(head.subarray(0, fs.readSync(fd, head, 0, HEAD, pos)), MAX_BODY);
    if (h.bad || h.need === 0 && h.used === 0) break;
    const length = HEAD + h.need;
    if (length > size - pos) break;
    const buf = Buffer.allocUnsafe(length);
    const p = parseRecords(buf.subarray(0, fs.readSync(fd, buf, 0, length, pos)), MAX_BODY);
    if (p.used === 0) break;
    for (const r of p.records) {
      const req = r.json && requestOf(r.json, r.body, now);
      if (req) requests.push(req);
    }
    pos += p.used;
  }
  return { name, end: pos, requests };
}
