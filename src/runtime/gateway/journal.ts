// A gateway's journal of accepted async requests: the 202 waits for the request's record to be in
// this process's own file in <state dir>/journal (written to the OS; with async.durability 'power'
// also fdatasync'd), not for a round trip to the queue process and its SQLite commit. The queue
// reads the journals into its store (queue/journal-ingest.ts) and removes a file once its writer
// is gone (or has moved to a newer generation) and every record in it is committed there.
//
// Appends made in one turn of the event loop go out in one pwritev at the file's position (and
// one fdatasync); one batch is written at a time, so a failed batch, zeroed again, can never sit
// before a good one that a reader would then not reach. The file is laid out in zeros ~1 MiB
// ahead of its records: a reader stops at the first zero magic, and an fdatasync has no file size
// to update.
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Durability } from '../../config/async.js';
import { encodeRecord, journalName, startTicks } from '../queue/journal-format.js';

const writev = promisify(fs.writev);
const fdatasync = promisify(fs.fdatasync);
const AHEAD = 1 << 20;
/** A file this long moves on to the next generation (at the next batch, with no write pending). */
const ROTATE_AT = 64 << 20;
const ZEROS = Buffer.alloc(AHEAD);

type Log = (level: 'info' | 'warn' | 'error', message: string) => void;
interface Batch {
  bufs: Buffer[];
  size: number;
  waiters: { resolve: () => void; reject: (e: Error) => void }[];
}

export class JournalWriter {
  private fd = -1;
  private gen = 0;
  private pos = 0;
  private laidOut = 0;
  private next: Batch = { bufs: [], size: 0, waiters: [] };
  private busy = false;
  private scheduled = false;
  /** A batch that failed could not be zeroed again: the next batch starts a new generation. */
  private broken = false;
  private logged = false;
  private closed = false;
  /** Callers of close() waiting for the batches in hand: told when the last one is written. */
  private readonly drained: (() => void)[] = [];
  name = '';

  constructor(
    readonly dir: string,
    private readonly durability: Durability,
    private readonly start: string,
    /** Told the file after each batch is written (the gateway tells the queue to read it). */
    private readonly written: (name: string) => void,
    private readonly log: Log,
  ) {
    this.openGen();
  }

  get file(): string {
    return path.join(this.dir, this.name);
  }

  private openGen(): void {
    const name = journalName(process.pid, this.start, this.gen);
    const fd = fs.openSync(path.join(this.dir, name), fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = fd;
    this.name = name;
    this.pos = 0;
    this.laidOut = 0;
    this.broken = false;
  }

  /** Resolves once the record is written (and, with durability 'power', fdatasync'd). */
  append(json: object, body: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the journal is closed'));
    const bufs = encodeRecord(json, body);
    return new Promise((resolve, reject) => {
      const b = this.next;
      for (const x of bufs) {
        b.bufs.push(x);
        b.size += x.length;
      }
      b.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.busy || !this.next.waiters.length) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const b = this.next;
    this.next = { bufs: [], size: 0, waiters: [] };
    this.busy = true;
    let at = this.pos;
    try {
      if (this.broken || this.pos >= ROTATE_AT) {
        this.gen++;
        this.openGen();
        at = 0;
      }
      while (this.laidOut < at + b.size + AHEAD) {
        await this.writeAll([ZEROS], this.laidOut);
        this.laidOut += AHEAD;
      }
      await this.writeAll(b.bufs, at);
      if (this.durability === 'power') await fdatasync(this.fd);
      this.pos = at + b.size;
      this.once();
      for (const w of b.waiters) w.resolve();
      this.written(this.name);
    } catch (err) {
      const e = new Error(`the journal ${this.file} could not be written: ${(err as Error).message}`);
      // Zeros where the batch was: no reader takes a record whose 202 was never sent as accepted
      // (its caller is told to retry), and the next batch goes in the same place.
      try {
        for (let z = 0; z < b.size; z += AHEAD) await this.writeAll([ZEROS.subarray(0, Math.min(AHEAD, b.size - z))], at + z);
        this.pos = at;
      } catch {
        this.broken = true;
      }
      this.log('error', `${e.message}${this.broken ? ' (nor zeroed again: the next requests go to a new file)' : ''}`);
      for (const w of b.waiters) w.reject(e);
    }
    this.busy = false;
    this.schedule();
    if (!this.scheduled && !this.busy) for (const d of this.drained.splice(0)) d();
  }

  private async writeAll(bufs: Buffer[], at: number): Promise<void> {
    const size = bufs.reduce((n, x) => n + x.length, 0);
    const { bytesWritten } = await writev(this.fd, bufs, at);
    if (bytesWritten !== size) throw new Error(`a short write (${bytesWritten} of ${size} bytes)`);
  }

  private once(): void {
    if (this.logged) return;
    this.logged = true;
    this.log('info', `first async request journaled to ${this.file}: ${this.durability === 'power' ? 'fdatasync before the 202 (async.durability power)' : 'written to the OS, no fdatasync (async.durability process)'}`);
  }

  /** Waits for the batches in hand, then closes the file (the queue removes it once it has read it). */
  async close(): Promise<void> {
    this.closed = true;
    // No appends are taken any more: the batches in hand end with a flush that schedules no other.
    if (this.busy || this.scheduled) await new Promise<void>((r) => this.drained.push(r));
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * This gateway's journal in `dir`, or undefined (with a warning) where the directory cannot be
 * used: then accepted requests go to the queue process over its socket and wait for its commit.
 */
export function openJournal(dir: string, durability: Durability, written: (name: string) => void, log: Log): JournalWriter | undefined {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const start = startTicks(process.pid);
    if (start === undefined) throw new Error(`/proc/${process.pid}/stat cannot be read`);
    return new JournalWriter(dir, durability, start, written, log);
  } catch (err) {
    log('warn', `cannot journal async requests in ${dir} (${(err as Error).message}): each is handed to the queue process and waits for its commit before the 202 (slower)`);
    return undefined;
  }
}
