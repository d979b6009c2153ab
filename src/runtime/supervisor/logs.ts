// One log file per role or function in <runtimeDir>/logs, rotated by size (on by default) so a
// chatty function cannot fill the disk. Lines carry a timestamp and who wrote them, so `faasflow
// logs` can merge files by time.
import fs from 'node:fs';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';

export interface LogSettings {
  maxBytes: number;
  keep: number;
}

export class LogFiles {
  private readonly streams = new Map<string, RotatingFileStream>();
  private closed = false;
  /** Off while `up` draws its steps on the same terminal; on once the instance runs. */
  private teeOn = false;

  constructor(
    private readonly dir: string,
    private readonly settings: LogSettings,
    /** Foreground mode: every line also goes here. */
    private readonly tee?: NodeJS.WritableStream,
    /** How lines go to `tee`: as in the files, or one JSON object a line (for log collectors). */
    private readonly teeFormat: 'text' | 'json' = 'text',
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private stream(file: string): RotatingFileStream {
    let s = this.streams.get(file);
    if (!s) {
      const { maxBytes, keep } = this.settings;
      // A plain file name with `rotate` is logrotate's scheme: file.log → file.log.1 → file.log.2.
      s = createStream(file, {
        path: this.dir,
        mode: 0o600,
        ...(maxBytes > 0 ? { size: `${Math.max(1, Math.ceil(maxBytes / 1024))}K`, rotate: Math.max(1, keep) } : {}),
      });
      // A log write must never take the supervisor down; the error is reported once on stderr.
      s.on('error', (err) => process.stderr.write(`faasflow: log ${file}: ${err.message}\n`));
      this.streams.set(file, s);
    }
    return s;
  }

  write(file: string, who: string, text: string): void {
    const t = new Date().toISOString();
    const line = `${t} ${who} ${text}\n`;
    // After close (the supervisor's last moments) append directly: an ended stream would drop
    // what it still buffers on a write-after-end error.
    if (this.closed) fs.appendFileSync(`${this.dir}/${file}`, line, { mode: 0o600 });
    else this.stream(file).write(line);
    if (this.teeOn) this.tee?.write(this.teeFormat === 'json' ? `${JSON.stringify({ t, log: file.replace(/\.log$/, ''), who, msg: text })}\n` : line);
  }

  startTee(): void {
    this.teeOn = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.streams.values()].map((s) => new Promise<void>((resolve) => s.end(resolve))));
    this.streams.clear();
  }
}

/** Children log JSON lines ({t, level, msg, ...}); the log file gets them readable. */
export function prettify(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const { t: _t, level, msg, pid: _pid, ...rest } = JSON.parse(line) as Record<string, unknown>;
    if (typeof msg !== 'string') return line;
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `${typeof level === 'string' ? `${level} ` : ''}${msg}${extra}`;
  } catch {
    return line;
  }
}
