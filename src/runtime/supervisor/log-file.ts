// One log file, rotated by bytes, written through a queue of bounded size. Rotation happens before
// a write that would take the file past `maxBytes`, never waiting for a line end, so a file is at
// most `maxBytes`, or one line when a single line is longer than that. The queue holds at most
// `queueBytes`: a disk slower than what is logged costs lines (the caller counts them), never the
// supervisor's memory. Rotation is logrotate's scheme, which `faasflow logs --follow` follows:
// fn-1.log → fn-1.log.1 → … → fn-1.log.<keep>, the oldest dropped.
import fs from 'node:fs';
import { rotatedLogFile } from '../../common/paths.js';

export interface FileSettings {
  /** Rotate before the file would pass this many bytes; 0: never. */
  maxBytes: number;
  /** Rotated files kept; 0: a full file is started afresh. */
  keep: number;
  /** Bytes queued (and being written) at most. */
  queueBytes: number;
}

/** Most bytes handed to one write: a rotation check between batches keeps to maxBytes. */
const BATCH_BYTES = 256 * 1024;

export class RotatingFile {
  private fh: fs.promises.FileHandle | undefined;
  private size = 0;
  private readonly queue: Buffer[] = [];
  /** Bytes in the queue and in the write under way. */
  private queued = 0;
  private pumping: Promise<void> | undefined;
  /** Error messages already reported (each once). */
  private readonly reported = new Set<string>();

  constructor(
    readonly path: string,
    private readonly s: FileSettings,
    private readonly report: (message: string) => void,
  ) {}

  /**
   * Queues `line` (with its newline). False, and nothing queued, when the queue is full; `reserve`
   * bytes more may be used (the supervisor's own lines, so a function's flood cannot crowd them out).
   */
  write(line: string, reserve = 0): boolean {
    return this.writeBytes(Buffer.from(line, 'utf8'), reserve);
  }

  /** As write, for lines already encoded (the buffer is the file's from now on). */
  writeBytes(b: Buffer, reserve = 0): boolean {
    if (this.queued + b.length > this.s.queueBytes + reserve) return false;
    this.queue.push(b);
    this.queued += b.length;
    this.pumping ??= this.pump();
    return true;
  }

  /** Resolves once everything queued so far is written. */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      try {
        const fh = this.fh ?? (await this.open());
        const batch = this.take();
        if (batch.length === 0) {
          await this.rotate();
          continue;
        }
        const n = batch.reduce((sum, b) => sum + b.length, 0);
        try {
          await fh.writev(batch);
          this.size += n;
        } finally {
          this.queued -= n;
        }
      } catch (err) {
        // ENOSPC, EIO, a directory removed under us: these lines are lost (reported once per
        // message), and the next write opens the file afresh.
        this.fail(err as Error);
      }
    }
    this.pumping = undefined;
  }

  /** The lines that fit before the next rotation (at most BATCH_BYTES); none: rotate first. */
  private take(): Buffer[] {
    const { maxBytes } = this.s;
    let k = 0;
    let n = 0;
    for (; k < this.queue.length; k++) {
      const len = this.queue[k].length;
      const over = maxBytes > 0 && this.size + n + len > maxBytes;
      // A line longer than maxBytes alone goes into a file of its own.
      if (over && (this.size > 0 || n > 0)) break;
      if (n > 0 && n + len > BATCH_BYTES) break;
      n += len;
    }
    // One splice a batch: a shift() a line is quadratic in a queue of many short lines.
    return this.queue.splice(0, k);
  }

  private async open(): Promise<fs.promises.FileHandle> {
    const fh = await fs.promises.open(this.path, 'a', 0o600);
    try {
      this.size = (await fh.stat()).size;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    this.fh = fh;
    return fh;
  }

  private async rotate(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
    const { keep } = this.s;
    if (keep > 0) {
      for (let k = keep - 1; k >= 1; k--) await renameIfThere(rotatedLogFile(this.path, k), rotatedLogFile(this.path, k + 1));
      await renameIfThere(this.path, rotatedLogFile(this.path, 1));
    } else {
      await fs.promises.rm(this.path, { force: true });
    }
    await this.open();
  }

  private fail(err: Error): void {
    const lost = this.queue.splice(0);
    this.queued -= lost.reduce((sum, b) => sum + b.length, 0);
    const fh = this.fh;
    this.fh = undefined;
    void fh?.close().catch(() => undefined);
    if (this.reported.has(err.message)) return;
    this.reported.add(err.message);
    this.report(`log ${this.path}: ${err.message}${lost.length ? ` (${lost.length} line(s) lost)` : ''}`);
  }
}

async function renameIfThere(from: string, to: string): Promise<void> {
  try {
    await fs.promises.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
