// Follows the per-process log files of an instance (like `tail -F` on all of them): new lines
// since the last poll, surviving rotation and truncation. Polled, not watched, because `top`
// polls anyway and fs.watch costs a file descriptor and an inotify watch per file.
import fs from 'node:fs';
import path from 'node:path';

export interface LogLine {
  /** ms since the epoch: the line's own ISO timestamp when it starts with one, else when it was read. */
  at: number;
  /** Log file name without .log, e.g. "gateway" or "fn-2". */
  source: string;
  /** The line without its leading timestamp. */
  text: string;
  /** Whether the line carried its own timestamp. */
  stamped: boolean;
}

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (.*)$/;

function parseLine(source: string, line: string, now: number): LogLine {
  const m = STAMP.exec(line);
  return m ? { at: Date.parse(m[1]), source, text: m[2], stamped: true } : { at: now, source, text: line, stamped: false };
}

interface Followed {
  ino: number;
  offset: number;
  partial: string;
  /** Reading started mid-file: the first fragment is the end of a line already gone by. */
  midLine: boolean;
}

const PROBLEM_WORD = /\b(error|fail(ed|ure|s)?|exception|uncaught|crash(ed)?|fatal|killed|timed out)\b/i;
/** errno names (ECONNREFUSED, EADDRINUSE): upper case only, or every "echo" would match. */
const ERRNO = /\bE[A-Z]{3,}\b/;

/** Lines that look like a problem; `top` lists them with the recent errors too. */
export function isProblem(text: string): boolean {
  return PROBLEM_WORD.test(text) || ERRNO.test(text);
}

export class LogTail {
  private readonly files = new Map<string, Followed>();
  private readonly lines: LogLine[] = [];

  /** `initialBytes`: how much of an existing file's end to show when it is first seen. */
  constructor(
    readonly dirs: string[],
    private readonly keep = 200,
    private readonly initialBytes = 2048,
  ) {}

  /** Appends what was written since the last poll; returns the new lines. */
  poll(now = Date.now()): LogLine[] {
    const fresh: LogLine[] = [];
    for (const file of this.logFiles()) {
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
      } catch {
        this.files.delete(file);
        continue;
      }
      let f = this.files.get(file);
      if (!f) {
        const offset = Math.max(0, st.size - this.initialBytes);
        f = { ino: st.ino, offset, partial: '', midLine: offset > 0 };
        this.files.set(file, f);
      } else if (f.ino !== st.ino || st.size < f.offset) {
        Object.assign(f, { ino: st.ino, offset: 0, partial: '', midLine: false });
      }
      if (st.size === f.offset) continue;
      const text = this.read(file, f, st.size);
      const source = path.basename(file, '.log');
      const parts = (f.partial + text).split('\n');
      f.partial = parts.pop() ?? '';
      if (f.midLine && parts.length) {
        parts.shift();
        f.midLine = false;
      }
      for (const line of parts) if (line.trim()) fresh.push(parseLine(source, line, now));
    }
    this.lines.push(...fresh);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
    return fresh;
  }

  recent(n = this.keep): LogLine[] {
    return this.lines.slice(-n);
  }

  private read(file: string, f: Followed, size: number): string {
    // A burst of logging between two polls is shown from its end: top has a dozen lines of room.
    const from = Math.max(f.offset, size - 64 * 1024);
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

  private logFiles(): string[] {
    const out: string[] = [];
    for (const dir of this.dirs) {
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch {
        continue;
      }
      for (const n of names) if (n.endsWith('.log')) out.push(path.join(dir, n));
    }
    return out.sort();
  }
}
