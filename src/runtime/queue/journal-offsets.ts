// Where reading each gateway journal resumes, for a store that has no table to keep it in (NATS
// JetStream: SQLite keeps it in the transaction with the rows). A small JSON file in the state
// directory, rewritten (temp file and rename) once per turn after a batch of publishes is
// acknowledged, so a restarted queue resumes there instead of reading whole journals again (and
// taking in again requests that were purged or expired since). Lost or stale, it costs a re-read
// only: ids the stream has are not stored twice. `queue purge --pending` moves it past what it drops.
import fs from 'node:fs';
import { parseJournalName } from './journal-format.js';

/** The file's name in the state directory. */
export const OFFSETS_FILE = 'journal-offsets.json';
/** A file of this many bytes is far more than the journals of any number of gateways need. */
const MAX_BYTES = 1 << 20;

/** The offsets in `file`, each checked (a journal's name, a non-negative integer); none if it is missing or unreadable. */
export function loadOffsets(file: string): Map<string, number> {
  const out = new Map<string, number>();
  let text: string;
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const buf = Buffer.allocUnsafe(MAX_BYTES);
      text = buf.toString('utf8', 0, fs.readSync(fd, buf, 0, MAX_BYTES, 0));
    } finally {
      fs.closeSync(fd);
    }
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
    for (const [k, n] of Object.entries(v)) if (parseJournalName(k) && Number.isSafeInteger(n) && (n as number) >= 0) out.set(k, n as number);
  } catch {
    // none kept (or unreadable): the journals are read from their start
  }
  return out;
}

/** Replaces `file` with `offsets` (a reader sees the old file or the new one, never half of one). */
export function saveOffsets(file: string, offsets: Map<string, number>): void {
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(offsets)), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** The queue's offsets, saved once per turn in which they changed. */
export class JournalOffsets {
  private readonly map: Map<string, number>;
  private saving = false;

  constructor(
    private readonly file: string,
    private readonly log: (level: 'info' | 'warn', line: string) => void,
  ) {
    this.map = loadOffsets(file);
  }

  get(name: string): number {
    return this.map.get(name) ?? 0;
  }

  set(name: string, offset: number): void {
    // Never back: a purge may have moved it past records this process had not read yet.
    this.map.set(name, Math.max(offset, this.get(name)));
    this.save();
  }

  delete(name: string): void {
    if (this.map.delete(name)) this.save();
  }

  private save(): void {
    if (this.saving) return;
    this.saving = true;
    setImmediate(() => {
      this.saving = false;
      try {
        saveOffsets(this.file, this.map);
      } catch (err) {
        this.log('warn', `cannot keep the journal offsets in ${this.file} (${(err as Error).message}): a restarted queue reads the journals from their start`);
      }
    });
  }
}
