// Reads the gateways' journals (gateway/journal.ts) into the queue's store: each file from the
// offset the store keeps for it, a record's 16-byte header first (all an idle file costs a tick),
// then 32 KiB reads (or the record's size), at most 8 MiB a turn over all files; the rows
// and the new offset commit in one transaction (store.ingest), so a killed queue resumes where its
// last commit left off and stores nothing twice (a request id is inserted once). A file is removed
// once its writer is gone (or writes a newer generation) and all its records are in the store,
// made durable first (store.barrier): the journal is an accepted request's only copy until then.
// The bytes are read as hostile: bounded lengths, a CRC, records that are not requests skipped.
import fs from 'node:fs';
import path from 'node:path';
import { headerPairs, num, str } from './wire.js';
import type { NewRequest, QueueStore } from './store.js';
import { HEAD, parseJournalName, parseRecords, writerAlive } from './journal-format.js';

const CHUNK = 32 << 10;
const TURN_BUDGET = 8 << 20;
/** How long a writer found running is taken to still run: its removal waits at most this much longer. */
const ALIVE_MS = 1000;
type Log = (level: 'info' | 'warn' | 'error', message: string) => void;

/** An accepted request's fields from a journal record or a PUT frame, or undefined if it is not one. */
export function requestOf(j: Record<string, unknown>, body: Buffer, now: number): NewRequest | undefined {
  const id = str(j.id, 64);
  const kind = j.kind === 'flow' ? 'flow' : j.kind === 'function' ? 'function' : undefined;
  const target = str(j.target, 256);
  if (!id || !kind || !target) return undefined;
  return {
    id, kind, target, name: str(j.name, 256) ?? target, fn: num(j.fn) ?? 0, caller: str(j.caller, 256) ?? '-', headers: headerPairs(j.headers), query: str(j.query, 65536) ?? '',
    body, callback: str(j.callback, 2048) ?? null, createdAt: num(j.at) ?? now,
  };
}

interface Open {
  fd: number;
  /** Where the next read starts: past the records handed to the store (committed or not yet). */
  pos: number;
  /** A torn tail skipped (its writer gone): nothing more is read from this file. */
  ended: boolean;
  /** When its writer was last found running (/proc read), 0: not yet. */
  aliveAt: number;
}

export class JournalIngest {
  private readonly open = new Map<string, Open>();
  private readonly removing = new Set<string>();
  private readonly failing = new Set<string>();
  private skipped = 0;
  private scheduled: Set<string> | 'all' | undefined;
  private closed = false;
  /** Bytes of records read, over all files. */
  private progress = 0;
  /** Reused by every read of a header, and of a chunk of records no larger than CHUNK. */
  private readonly head = Buffer.allocUnsafe(HEAD);
  private readonly chunk = Buffer.allocUnsafe(CHUNK);

  constructor(
    readonly dir: string,
    private readonly store: QueueStore,
    private readonly maxBody: number,
    private readonly log: Log,
    /** Rows were committed: the dispatcher has new work. */
    private readonly ingested: () => void,
  ) {}

  /** A read of `file` (or of every journal) on the next turn, coalesced with others asked for meanwhile. */
  soon(file?: string): void {
    if (this.closed) return;
    if (this.scheduled === undefined) setImmediate(() => this.flushSoon());
    if (file === undefined) this.scheduled = 'all';
    else if (this.scheduled !== 'all') {
      this.scheduled ??= new Set();
      this.scheduled.add(file);
    }
  }

  private flushSoon(): void {
    const s = this.scheduled;
    this.scheduled = undefined;
    let more = false;
    if (s === 'all') more = this.read();
    else for (const f of s ?? []) more = this.read(f) || more;
    if (more) this.soon();
  }

  /** Reads what is new in the journal `file` (a bare name) or in every journal; true if more is left for another turn. */
  read(file?: string): boolean {
    if (this.closed) return false;
    let names: string[];
    try {
      names = file !== undefined ? [file] : fs.readdirSync(this.dir);
    } catch {
      return false;
    }
    const parsed = names.map((n) => ({ n, p: parseJournalName(n) })).filter((x) => x.p !== undefined);
    let budget = TURN_BUDGET;
    // More is left only where this read moved on (a live writer's record cut short is not "more").
    const before = this.progress;
    for (const { n, p } of parsed) {
      if (budget <= 0) return this.progress > before;
      const newer = file === undefined && parsed.some((o) => o.p!.pid === p!.pid && o.p!.start === p!.start && o.p!.gen > p!.gen);
      budget -= this.readOne(n, newer);
    }
    return budget <= 0 && this.progress > before;
  }

  /** Reads one file as far as its complete records go; returns the bytes read. */
  private readOne(name: string, newer: boolean): number {
    if (this.removing.has(name)) return 0;
    const file = path.join(this.dir, name);
    let o = this.open.get(name);
    if (!o) {
      try {
        o = { fd: fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW), pos: this.store.journalOffset(name), ended: false, aliveAt: 0 };
      } catch {
        return 0;
      }
      this.open.set(name, o);
    }
    const rows: NewRequest[] = [];
    const from = o.pos;
    let read = 0;
    let torn: string | undefined;
    /** The end of the records was reached (a zero magic, or the end of the file). */
    let end = false;
    /** Bytes to read next; 0: at a record's start, where its header is read first. */
    let want = 0;
    const now = Date.now();
    while (!o.ended && read < TURN_BUDGET) {
      if (want === 0) {
        // An idle file costs one read of a header, into a buffer kept for it: what follows the
        // records is the writer's zeros laid out ahead, and reading them tells nothing.
        const n = this.pread(name, o, this.head, HEAD);
        if (n < 0) break;
        read += n;
        const h = parseRecords(this.head.subarray(0, n), this.maxBody);
        if (h.bad) torn = h.bad;
        else if (h.need > 0 && n < HEAD) torn = `a record cut short (${h.need} bytes missing)`;
        else if (n < HEAD || h.need === 0 && h.used === 0) end = true;
        if (torn || end) break;
        // The header's lengths are bounded by parseRecords: the record, or a chunk of small ones.
        want = Math.max(CHUNK, HEAD + h.need);
      }
      const buf = want <= CHUNK ? this.chunk : Buffer.allocUnsafe(want);
      const n = this.pread(name, o, buf, want);
      if (n < 0) break;
      read += n;
      // Bodies are copied out of `buf` (parseRecords), so the chunk is free again for the next read.
      const p = parseRecords(buf.subarray(0, n), this.maxBody);
      for (const r of p.records) {
        const req = r.json && requestOf(r.json, r.body, now);
        if (req) rows.push(req);
        else if (this.skipped++ === 0) this.log('warn', `journal ${name}: a record that is not an async request (skipped; further ones are counted in the queue's stats, not logged)`);
      }
      o.pos += p.used;
      if (p.bad) torn = p.bad;
      else if (p.need > 0 && p.used === 0) torn = `a record cut short (${p.need} bytes missing)`;
      // A record begins past the ones read (cut by the chunk), or the chunk ended on a record's end.
      else if (p.need > 0 || p.used === n && n === want) {
        want = 0;
        continue;
      } else end = true;
      break;
    }
    // Whether the writer is gone matters only where the reading stopped at the end or at a torn
    // record (a skipped tail too: its removal is tried again until the store has the records).
    const gone = (o.ended || torn !== undefined || end) && (newer || !this.alive(name, o));
    if (torn && gone) {
      let size = -1;
      try {
        size = fs.fstatSync(o.fd).size;
      } catch {
        // left at -1: the size is only for the log line
      }
      this.log('warn', `journal ${name}: ${torn} at byte ${o.pos} of ${size}, and its gateway is gone: the bytes from there are skipped`);
      o.ended = true;
    }
    this.progress += o.pos - from;
    // Records that were not requests move the offset too.
    if (rows.length || o.pos !== from) this.hand(name, rows, o.pos);
    if (gone && (o.ended || end)) this.finish(name, o);
    return read;
  }

  /** Up to `length` bytes at the file's position; -1 (logged) if it cannot be read. */
  private pread(name: string, o: Open, buf: Buffer, length: number): number {
    try {
      return fs.readSync(o.fd, buf, 0, length, o.pos);
    } catch (err) {
      this.log('warn', `journal ${name}: cannot read it (${(err as Error).message})`);
      return -1;
    }
  }

  /**
   * Whether the file's writer still runs: read from /proc at most once per ALIVE_MS while it does,
   * not on every idle tick (a gone writer never comes back: its pid and start time name it).
   */
  private alive(name: string, o: Open): boolean {
    const now = Date.now();
    if (o.aliveAt && now - o.aliveAt < ALIVE_MS) return true;
    if (!writerAlive(name)) return false;
    o.aliveAt = now;
    return true;
  }

  private hand(name: string, rows: NewRequest[], offset: number): void {
    this.store.ingest(rows, name, offset, (err) => {
      if (!err) {
        if (this.failing.delete(name)) this.log('info', `journal ${name}: stored again`);
        return this.ingested();
      }
      // Once until it works again: a NATS server away fails every read of every tick.
      if (!this.failing.has(name)) this.log('error', `journal ${name}: ${rows.length} request(s) could not be stored (${err.message}); read again until they are`);
      this.failing.add(name);
      // Read again from what the store holds (its ids are not inserted twice).
      const o = this.open.get(name);
      if (o) {
        this.open.delete(name);
        fs.close(o.fd, () => undefined);
      }
    });
  }

  /** Everything in the file is handed over and its writer is gone: removed once the store's copy is durable. */
  private finish(name: string, o: Open): void {
    const end = o.pos;
    this.removing.add(name);
    this.store.barrier((err) => {
      this.removing.delete(name);
      if (this.closed) return;
      // A failed ingest resets the file's reading: then it is read again, not removed.
      if (err || this.open.get(name) !== o || this.store.journalOffset(name) < end) return;
      try {
        fs.unlinkSync(path.join(this.dir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return void this.log('warn', `journal ${name}: cannot remove it (${(e as Error).message})`);
      }
      fs.closeSync(o.fd);
      this.open.delete(name);
      this.store.forgetJournal(name);
    });
  }

  /** Records that were not requests (a count for the stats). */
  get skippedRecords(): number {
    return this.skipped;
  }

  close(): void {
    this.closed = true;
    for (const o of this.open.values()) fs.closeSync(o.fd);
    this.open.clear();
  }
}
