// A child's stdout and stderr as the supervisor reads them: hostile bytes (issue 18) turned into
// lines of bounded length, made safe to print, read no faster than a budget. Nothing here holds
// more than one bounded line per stream, whatever the child writes: no newline for 600 MiB, NULs,
// invalid UTF-8, a flood of short lines.
import type { Readable } from 'node:stream';

/** Longest line kept by default (`logs.maxLine`): a long stack trace or JSON record, not a dump. */
export const DEFAULT_MAX_LINE = 16 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines at LF, CR or CRLF (as readline does: a CR alone ends a line too,
 * so a progress bar's redraws are lines, not one growing line). A line longer than `max` bytes
 * keeps its first `max` bytes (cut back to a whole UTF-8 character) and drops the rest up to the
 * line's end; `emit` gets the kept bytes and how many were dropped. The bytes are a view, valid
 * only during the call: nothing is decoded or copied for a line its consumer drops. Empty lines
 * are skipped: they would log a timestamp and nothing else. Holds at most `max` bytes between chunks.
 */
export class LineReader {
  /** Line ends seen so far, empty lines included: what the reading cost in lines. */
  ends = 0;
  private buf: Buffer | undefined;
  private held = 0;
  private dropped = 0;
  /** The last chunk ended in CR: an LF starting the next one belongs to it. */
  private afterCR = false;

  constructor(
    private readonly max: number,
    private readonly emit: (line: Buffer, cut: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let pos = 0;
    if (this.afterCR && chunk.length > 0) {
      this.afterCR = false;
      if (chunk[0] === LF) pos = 1;
    }
    // The next LF and CR at or after pos, each searched again only once passed: a chunk of many
    // lines is scanned once, not once per line.
    let lf = -2;
    let cr = -2;
    while (pos < chunk.length) {
      if (lf !== -1 && lf < pos) lf = chunk.indexOf(LF, pos);
      if (cr !== -1 && cr < pos) cr = chunk.indexOf(CR, pos);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) {
        this.take(chunk, pos, chunk.length);
        return;
      }
      if (this.held === 0 && this.dropped === 0 && end - pos <= this.max) {
        // The common case, a whole line inside one chunk: passed on as a view of it.
        if (end > pos) this.emit(chunk.subarray(pos, end), 0);
      } else {
        this.take(chunk, pos, end);
        this.finish();
      }
      pos = end + 1;
      this.ends++;
      if (chunk[end] === CR) {
        if (pos === chunk.length) this.afterCR = true;
        else if (chunk[pos] === LF) pos++;
      }
    }
  }

  /** The stream ended: a last line without its newline is still a line. */
  end(): void {
    if (this.held > 0 || this.dropped > 0) this.finish();
    this.afterCR = false;
  }

  /** Bytes held now for an unfinished line (at most `max`). */
  get pending(): number {
    return this.held;
  }

  private take(chunk: Buffer, from: number, to: number): void {
    const n = Math.min(to - from, this.max - this.held);
    if (n > 0) {
      this.buf ??= Buffer.allocUnsafe(this.max);
      chunk.copy(this.buf, this.held, from, from + n);
      this.held += n;
    }
    this.dropped += to - from - n;
  }

  private finish(): void {
    const buf = this.buf;
    let kept = this.held;
    // A cut may split a character: its first bytes go with the rest (U+FFFD would mark nothing).
    if (this.dropped > 0 && buf) kept = wholeCharacters(buf, kept);
    const cut = this.dropped + (this.held - kept);
    this.held = 0;
    this.dropped = 0;
    if (kept > 0 || cut > 0) this.emit(buf ? buf.subarray(0, kept) : Buffer.alloc(0), cut);
  }
}

/** How many of the first `n` bytes of `buf` end on a UTF-8 character boundary. */
export function wholeCharacters(buf: Buffer, n: number): number {
  // Back over at most 3 continuation bytes to the lead byte of the last character.
  let i = n - 1;
  while (i >= 0 && i >= n - 4 && (buf[i] & 0xc0) === 0x80) i--;
  if (i < 0) return n;
  const lead = buf[i];
  const len = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i + len > n ? i : n;
}

/**
 * C0 controls but TAB, DEL and C1 controls: written to a terminal by `faasflow logs` they would be
 * commands to it (an escape sequence clears the screen or rewrites the lines above; CR returns to
 * the start of the line, so a function's text could stand where the supervisor's prefix was).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r' };

/**
 * `text` with every control character written as a visible escape (`\x00`, `\x1b`; a newline in
 * a JSON line's message as `\n`): one line in the file stays one line, and no line of a function's
 * can pass for the supervisor's.
 */
export function printable(text: string): string {
  CONTROL.lastIndex = 0;
  if (!CONTROL.test(text)) return text;
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `text` cut to at most `max` UTF-8 bytes on a character boundary, and the bytes it lost. */
export function cutTo(text: string, max: number): { text: string; cut: number } {
  // A UTF-16 unit is at most 3 UTF-8 bytes: a short text needs no count.
  if (text.length * 3 <= max) return { text, cut: 0 };
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return { text, cut: 0 };
  const kept = wholeCharacters(bytes, max);
  return { text: bytes.toString('utf8', 0, kept), cut: bytes.length - kept };
}

/** A cut line's mark, at the end of the part kept: how many bytes of the line were dropped. */
export function markCut(text: string, cut: number): string {
  return cut > 0 ? `${text} … [cut: ${cut} bytes]` : text;
}

/**
 * A token bucket: `rate` tokens a second up to `burst`. `take` admits a cost only when the tokens
 * cover it (a log line); `spend` always takes and says how long until the debt is paid (bytes
 * read, which were read already). A rate of Infinity admits everything.
 */
export class Bucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.at = now;
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = Math.max(this.at, now);
  }

  take(cost: number, now = Date.now()): boolean {
    if (this.rate === Infinity) return true;
    this.refill(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Takes `cost` even into debt; ms until `margin` tokens are there again (0: there are). */
  spend(cost: number, margin = 0, now = Date.now()): number {
    if (this.rate === Infinity) return 0;
    this.refill(now);
    this.tokens -= cost;
    return this.tokens >= 0 ? 0 : Math.ceil(((Math.min(margin, this.burst) - this.tokens) * 1000) / this.rate);
  }
}

/** What the supervisor allows itself to read from one child's pipe, and the longest line it keeps. */
export interface OutputBounds {
  maxLine: number;
  /** Bytes a second read from one pipe, after `readBurst`; a child writing faster waits in its write(). */
  readRate: number;
  readBurst: number;
}

export const UNBOUNDED_READS: OutputBounds = { maxLine: DEFAULT_MAX_LINE, readRate: Infinity, readBurst: Infinity };

/**
 * What one line costs the read budget, in bytes: the supervisor reads a pipe for about 2 ms a MiB
 * and handles a line (dropped or logged) in 0.2 to 0.6 µs (measured), so without a price per line
 * a flood of 2-byte lines at the budget's bytes would cost it a core. 128 keeps a function's
 * ordinary lines (50 to 200 bytes) readable at several times logs.rate.
 */
const LINE_COST = 128;

/**
 * Reads `stream` (a child's stdout or stderr) as bounded lines into `onLine` (views, as LineReader
 * passes them), and no faster than `bounds.readRate`: past it the stream is paused until the
 * budget allows more, so a child writing faster keeps its backlog itself (in its own memory, under
 * its own limits, or blocked in write()) and the supervisor's CPU is not its to spend.
 */
export function readOutput(stream: Readable, bounds: OutputBounds, onLine: (line: Buffer, cut: number) => void): void {
  const lines = new LineReader(bounds.maxLine, onLine);
  const budget = new Bucket(bounds.readRate, bounds.readBurst);
  let paused: NodeJS.Timeout | undefined;
  stream.on('data', (chunk: Buffer) => {
    const ends = lines.ends;
    lines.push(chunk);
    const cost = chunk.length + (lines.ends - ends) * LINE_COST;
    // Resumed once 50 ms of reading are paid for: a timer's resolution is a millisecond, and a
    // pause per chunk would read far below the rate.
    const wait = budget.spend(cost, Math.max(cost, bounds.readRate / 20));
    if (wait > 0 && !paused) {
      stream.pause();
      paused = setTimeout(() => {
        paused = undefined;
        stream.resume();
      }, wait);
    }
  });
  const done = () => {
    clearTimeout(paused);
    lines.end();
  };
  stream.once('end', done);
  stream.once('close', done);
}
