// One log file per role or function in <runtimeDir>/logs, rotated by bytes (log-file.ts) so a
// chatty function cannot fill the disk. Lines carry a timestamp and who wrote them, so `faasflow
// logs` can merge files by time. A function's output is hostile input: its lines arrive bounded
// (output.ts), are made printable, and pass a token bucket per function (`logs.rate`); what is
// dropped is counted and said once a second. The supervisor's own lines about a function (starts,
// exits, restarts) are outside that budget and have room of their own in the write queue.
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { fmtBytes } from '../../common/units.js';
import { RotatingFile } from './log-file.js';
import { Bucket, DEFAULT_MAX_LINE, cutTo, markCut, printable, type OutputBounds } from './output.js';

export interface LogSettings {
  maxBytes: number;
  keep: number;
  /** Longest line kept from a child's output (bytes); default DEFAULT_MAX_LINE. */
  maxLine?: number;
  /** Bytes a second one function's output may add to its log; 0 or absent: no limit. */
  rate?: number;
  /** What it may write at once above the rate; default 4 × rate. */
  burst?: number;
}

/** The write queue of one log file: a burst at the default rate, and many lines of the longest kind. */
const QUEUE_BYTES = 1 << 20;
/** Room past a full queue for the supervisor's own lines (exits, restarts, the drop notices). */
const RESERVE_BYTES = 256 * 1024;
/**
 * How much faster than `logs.rate` the supervisor reads one pipe (dropping what is over the rate)
 * before it pauses it: past that the backlog stays with the child (Node buffers a container's
 * stdout in the container's memory, under its memoryMax; a synchronous write blocks). Unbounded,
 * one flooding replica cost the supervisor 90 % of a core; at 8 × (with output.ts's charge per
 * line) 7 % (measured, 54-byte lines). A function that floods for long pays in its own replica.
 */
const READ_FACTOR = 8;

/** An ISO timestamp, a space before and after who wrote the line, the newline. */
const PREFIX_BYTES = 27;

/** Lines dropped from one log since its last notice. */
interface Drops {
  rate: { lines: number; bytes: number };
  queue: { lines: number; bytes: number };
  timer: NodeJS.Timeout | undefined;
}

export class LogFiles {
  private readonly files = new Map<string, RotatingFile>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly drops = new Map<string, Drops>();
  private closed = false;
  /** Off while `up` draws its steps on the same terminal; on once the instance runs. */
  private teeOn = false;
  readonly maxLine: number;
  private readonly rate: number;
  private readonly burst: number;

  constructor(
    private readonly dir: string,
    private readonly settings: LogSettings,
    /** Foreground mode: every line also goes here. */
    private readonly tee?: NodeJS.WritableStream,
    /** How lines go to `tee`: as in the files, or one JSON object a line (for log collectors). */
    private readonly teeFormat: 'text' | 'json' = 'text',
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.maxLine = settings.maxLine ?? DEFAULT_MAX_LINE;
    this.rate = settings.rate || Infinity;
    this.burst = this.rate === Infinity ? Infinity : (settings.burst ?? 4 * this.rate);
  }

  /** How a child's pipes are read: lines up to maxLine, at most READ_FACTOR × the rate (output.ts readOutput). */
  get bounds(): OutputBounds {
    return { maxLine: this.maxLine, readRate: READ_FACTOR * this.rate, readBurst: READ_FACTOR * this.burst };
  }

  private file(file: string): RotatingFile {
    let f = this.files.get(file);
    if (!f) {
      const { maxBytes, keep } = this.settings;
      // A log write must never take the supervisor down; each error is reported once on stderr.
      f = new RotatingFile(path.join(this.dir, file), { maxBytes, keep, queueBytes: QUEUE_BYTES }, (m) => process.stderr.write(`faasflow: ${m}\n`));
      this.files.set(file, f);
    }
    return f;
  }

  /** One of the supervisor's own lines: never dropped for a function's rate, room kept for it in the queue. */
  write(file: string, who: string, text: string): void {
    this.append(file, who, text, RESERVE_BYTES);
  }

  /**
   * A line of a child's output (a view: `cut` bytes were dropped from its end). `limited`: it
   * counts against the function's `logs.rate`, by what it adds to the file (a flood of 1-byte
   * lines is a flood of timestamps), checked before anything is decoded. Returns what the line
   * says (a JSON line's message), or undefined when it was dropped (over the rate, or the file's
   * queue full); a drop is counted and said in the log once a second.
   */
  output(file: string, who: string, line: Buffer, cut: number, limited: boolean): string | undefined {
    // After close only the supervisor's own last lines go in (a straggler's output would bypass rotation).
    if (this.closed) return undefined;
    const d = this.dropsOf(file);
    // What the line adds to the file, known before decoding: its bytes, the timestamp and who.
    const bytes = line.length + who.length + PREFIX_BYTES;
    if (limited && !this.bucketOf(file).take(bytes)) return this.dropped(file, d.rate, bytes);
    const { text, message } = readable(line.toString('utf8'));
    // readable() may turn JSON escapes back into control characters: printable() comes after it.
    const kept = cutTo(printable(text), this.maxLine);
    if (!this.append(file, who, markCut(kept.text, cut + kept.cut), 0)) return this.dropped(file, d.queue, bytes);
    return message;
  }

  private append(file: string, who: string, text: string, reserve: number): boolean {
    const t = new Date().toISOString();
    const line = `${t} ${who} ${text}\n`;
    // After close (the supervisor's last moments) append directly: the queue is no longer written.
    if (this.closed) fs.appendFileSync(path.join(this.dir, file), line, { mode: 0o600 });
    else if (!this.file(file).write(line, reserve)) return false;
    // A foreground consumer that stops reading (a stuck log collector) costs it lines, not the
    // supervisor memory: the files have them all.
    if (this.teeOn && this.tee && ((this.tee as Partial<Writable>).writableLength ?? 0) < QUEUE_BYTES) this.tee.write(this.teeFormat === 'json' ? `${JSON.stringify({ t, log: file.replace(/\.log$/, ''), who, msg: text })}\n` : line);
    return true;
  }

  private bucketOf(file: string): Bucket {
    let b = this.buckets.get(file);
    if (!b) {
      b = new Bucket(this.rate, this.burst);
      this.buckets.set(file, b);
    }
    return b;
  }

  private dropsOf(file: string): Drops {
    let d = this.drops.get(file);
    if (!d) {
      d = { rate: { lines: 0, bytes: 0 }, queue: { lines: 0, bytes: 0 }, timer: undefined };
      this.drops.set(file, d);
    }
    return d;
  }

  private dropped(file: string, count: { lines: number; bytes: number }, bytes: number): undefined {
    count.lines++;
    count.bytes += bytes;
    const d = this.dropsOf(file);
    d.timer ??= setTimeout(() => this.notice(file), 1000).unref();
    return undefined;
  }

  /** The drop notice: one line a second while lines are being dropped, none once they are not. */
  private notice(file: string): void {
    const d = this.dropsOf(file);
    d.timer = undefined;
    const name = file.replace(/\.log$/, '');
    const reasons = [
      [d.rate, `over logs.rate (${fmtBytes(this.rate)}/s)`],
      [d.queue, 'the log file is written slower than it grows'],
    ] as const;
    for (const [c, why] of reasons) {
      if (c.lines > 0) this.write(file, `supervisor[${process.pid}]`, `dropped ${c.lines} line${c.lines === 1 ? '' : 's'} (${fmtBytes(c.bytes)}) from ${name}: ${why}`);
      c.lines = 0;
      c.bytes = 0;
    }
  }

  startTee(): void {
    this.teeOn = true;
  }

  async close(): Promise<void> {
    // The notices of the last second first: they are part of what happened.
    for (const [file, d] of this.drops) {
      clearTimeout(d.timer);
      this.notice(file);
    }
    this.closed = true;
    await Promise.all([...this.files.values()].map((f) => f.close()));
    this.files.clear();
  }
}

/** Children log JSON lines ({t, level, msg, ...}); the log file gets them readable. */
export function prettify(line: string): string {
  return readable(line).text;
}

/** A line as the log file shows it, and what it says: a JSON line's message (`msg`), else the line. */
function readable(line: string): { text: string; message: string } {
  if (!line.startsWith('{')) return { text: line, message: line };
  try {
    const { t: _t, level, msg, pid: _pid, ...rest } = JSON.parse(line) as Record<string, unknown>;
    if (typeof msg !== 'string') return { text: line, message: line };
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return { text: `${typeof level === 'string' ? `${level} ` : ''}${msg}${extra}`, message: msg };
  } catch {
    return { text: line, message: line };
  }
}
