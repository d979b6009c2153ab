// An instance's per-process logs (<runtimeDir>/logs/*.log), read two ways: the last lines of
// several files merged by their timestamps (`faasflow logs`), and followed like `tail -F` through
// rotation and truncation (`faasflow logs --follow`, `top`). Polled, not watched: `top` polls
// anyway, and fs.watch costs a file descriptor and an inotify watch per file.
import fs from 'node:fs';
import path from 'node:path';
import { isLogFile, logFileFor, rotatedLogFile } from '../common/paths.js';
import { isAccessLog } from './access.js';

export interface LogLine {
  /** ms since the epoch: the line's own ISO timestamp when it starts with one, else when it was read. */
  at: number;
  /** Log file name without .log, e.g. "gateway" or "fn-2". */
  source: string;
  /** The line without its leading timestamp. */
  text: string;
  /** Whether the line carried its own timestamp. */
  stamped: boolean;
  /** The line as it is in the file. */
  raw: string;
}

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (.*)$/;
/** An ISO timestamp with milliseconds, as the supervisor writes it: lines sort by it as text. */
const STAMP_CHARS = 24;

function parseLine(source: string, line: string, now: number): LogLine {
  const m = STAMP.exec(line);
  return m ? { at: Date.parse(m[1]), source, text: m[2], stamped: true, raw: line } : { at: now, source, text: line, stamped: false, raw: line };
}

const PROBLEM_WORD = /\b(error|fail(ed|ure|s)?|exception|uncaught|crash(ed)?|fatal|killed|timed out)\b/i;
/** errno names (ECONNREFUSED, EADDRINUSE): upper case only, or every "echo" would match. */
const ERRNO = /\bE[A-Z]{3,}\b/;

/** Lines that look like a problem; `top` lists them with the recent errors too. */
export function isProblem(text: string): boolean {
  return PROBLEM_WORD.test(text) || ERRNO.test(text);
}

/** The log files in `dir`: function `functionId`'s only, or every process's (not rotated ones, nor the access logs). */
export function logFiles(dir: string, functionId?: number): string[] {
  if (functionId !== undefined) return [path.join(dir, logFileFor('container', functionId))];
  try {
    return fs.readdirSync(dir).filter((f) => isLogFile(f) && !isAccessLog(f)).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** A file's lines; null when it cannot be read (a rotated file logs.keep did not leave). */
function readLines(file: string): string[] | null {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return null;
  }
}

/** The last `n` lines across `files`, oldest first (by the timestamp at `timeAt` in each line). */
export function tailLines(files: string[], n: number, timeAt = 0): string[] {
  // slice(-0) is the whole array: "no lines" must be said explicitly.
  if (n <= 0) return [];
  const all: string[] = [];
  for (const f of files) {
    // Not enough in the current file: the rotated ones hold what came before, newest (.1) first,
    // as many as logs.keep left. Gathered newest first and joined once, not re-spread per file.
    const newestFirst = [readLines(f) ?? []];
    let count = newestFirst[0].length;
    for (let k = 1; count < n; k++) {
      const older = readLines(rotatedLogFile(f, k));
      if (!older) break;
      newestFirst.push(older);
      count += older.length;
    }
    all.push(...newestFirst.reverse().flat().slice(-n));
  }
  const key = (l: string) => l.slice(timeAt, timeAt + STAMP_CHARS);
  return all.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)).slice(-n);
}

interface Followed {
  ino: number;
  offset: number;
  partial: string;
  /** Reading started mid-file: the first fragment is the end of a line already gone by. */
  midLine: boolean;
}

export interface TailOptions {
  /** Lines kept for `recent()`. */
  keep?: number;
  /** How much of the end of each file there at the first poll is shown; 0: only what comes after. */
  initialBytes?: number;
  /** A burst larger than this between two polls is shown from its end (top has a dozen lines of room). */
  burstBytes?: number;
}

/** Whether the byte before `offset` ends a line: reading from there starts with a whole line. */
function afterNewline(file: string, offset: number): boolean {
  const b = Buffer.alloc(1);
  try {
    const fd = fs.openSync(file, 'r');
    try {
      return fs.readSync(fd, b, 0, 1, offset - 1) === 1 && b[0] === 0x0a;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

export class LogTail {
  private readonly followed = new Map<string, Followed>();
  private readonly lines: LogLine[] = [];
  private primed = false;
  private readonly keep: number;
  private readonly initialBytes: number;
  private readonly burstBytes: number;

  /** `files` is asked at every poll: log files appear as functions are deployed. */
  constructor(
    private readonly files: () => string[],
    o: TailOptions = {},
  ) {
    this.keep = o.keep ?? 200;
    this.initialBytes = o.initialBytes ?? 0;
    this.burstBytes = o.burstBytes ?? Infinity;
  }

  /** What was written since the last poll, in each file's order; also kept for `recent()`. */
  poll(now = Date.now()): LogLine[] {
    const fresh: LogLine[] = [];
    for (const file of this.files()) {
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
      } catch {
        this.followed.delete(file);
        continue;
      }
      const source = path.basename(file, '.log');
      const emit = (text: string, f: Followed) => {
        for (const line of this.split(f, text)) if (line.trim()) fresh.push(parseLine(source, line, now));
      };
      let f = this.followed.get(file);
      if (!f) {
        // A file there from the start shows its end; one that appears later is new from its first byte.
        const offset = this.primed ? 0 : Math.max(0, st.size - this.initialBytes);
        f = { ino: st.ino, offset, partial: '', midLine: offset > 0 && !afterNewline(file, offset) };
        this.followed.set(file, f);
      } else if (f.ino !== st.ino) {
        emit(this.rest(file, f), f);
        if (f.partial.trim()) fresh.push(parseLine(source, f.partial, now));
        Object.assign(f, { ino: st.ino, offset: 0, partial: '', midLine: false });
      } else if (st.size < f.offset) {
        // Truncated in place: whatever is there now was written since.
        Object.assign(f, { offset: 0, partial: '', midLine: false });
      }
      if (st.size > f.offset) emit(this.read(file, f, st.size), f);
    }
    this.primed = true;
    this.lines.push(...fresh);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
    return fresh;
  }

  recent(n = this.keep): LogLine[] {
    return this.lines.slice(-n);
  }

  /**
   * The one rotation rule. A file with a new inode was rotated (renamed to its `.1`, the older ones
   * each moved one down, a new one started): what was written to the old one after the last poll
   * is read from wherever it is now, `.1` or, when it was rotated more than once since, `.k`;
   * then everything in the files rotated after it, `.k-1` to `.1`. So no line is lost or repeated
   * however many rotations a poll spans, as long as the writer keeps that many files.
   */
  private rest(file: string, f: Followed): string {
    const MAX_ROTATED = 100;
    for (let k = 1; k <= MAX_ROTATED; k++) {
      let st: fs.Stats;
      try {
        st = fs.statSync(rotatedLogFile(file, k));
      } catch {
        return ''; // gone: rotated out of what the writer keeps
      }
      if (st.ino !== f.ino) continue;
      let text = st.size > f.offset ? this.read(rotatedLogFile(file, k), f, st.size) : '';
      for (let j = k - 1; j >= 1; j--) {
        try {
          text += fs.readFileSync(rotatedLogFile(file, j), 'utf8');
        } catch {
          // rotated away while we read: its lines are lost to this poll
        }
      }
      return text;
    }
    return '';
  }

  /** Complete lines of `text` after what was left over from the last read. */
  private split(f: Followed, text: string): string[] {
    const parts = (f.partial + text).split('\n');
    f.partial = parts.pop() ?? '';
    if (f.midLine && parts.length) {
      parts.shift();
      f.midLine = false;
    }
    return parts;
  }

  private read(file: string, f: Followed, size: number): string {
    const from = Math.max(f.offset, size - this.burstBytes);
    if (from > f.offset) Object.assign(f, { partial: '', midLine: true });
    const buf = Buffer.alloc(size - from);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, buf, 0, buf.length, from);
    } finally {
      fs.closeSync(fd);
    }
    f.offset = size;
    return buf.toString('utf8');
  }
}

/** Calls `onLine` with each line `tail` sees from its next poll on, until `signal` aborts. */
export async function followLines(tail: LogTail, onLine: (line: LogLine) => void, signal: AbortSignal, pollMs = 250): Promise<void> {
  while (!signal.aborted) {
    await new Promise((r) => setTimeout(r, pollMs));
    for (const l of tail.poll()) onLine(l);
  }
}
