// The gateway's access log (gateway.accessLog): one JSON line per finished request, written by this
// gateway to logs/access-<n>.log and rotated by bytes like every log (RotatingFile). The request
// path only notes a small record on the response and, when the response closes, appends a line to a
// batch; the batch is written every FLUSH_MS (or once it is BATCH_BYTES), one write for many lines.
// The response's 'close' listener is one shared function that finds its record through a symbol
// slot, so logging makes no closure per request (see exchange.ts for why that matters).
import fs from 'node:fs';
import path from 'node:path';
import { NOTED, type ClientRequest, type ClientResponse } from '../http1/types.js';
import { EXCHANGE, type WithExchange } from './exchange.js';
import { RotatingFile } from '../supervisor/log-file.js';
import { accessLogName } from '../../observe/access.js';
import { log } from '../child.js';

const FLUSH_MS = 200;
const BATCH_BYTES = 64 * 1024;
/** Lines waiting for a slow disk at most; past it lines are dropped and counted. */
const QUEUE_BYTES = 4 * 1024 * 1024;
/** What a request whose client left before its answer was written is logged with (nginx's code). */
const CLIENT_GONE = 499;
const REPORT_DROPS_MS = 60_000;

/** What the access log knows of a request until its response closes. */
interface Visit {
  log: AccessLog;
  req: ClientRequest;
  t0: number;
  /** `"function":"echo"`, `"flow":"resize"` or `"path":"/x"`: a JSON member, escaped already. */
  target: string;
  caller: string;
}

type Noted = ClientResponse & { [NOTED]?: Visit };

/** A response of either parser: the light one keeps its status and headers as fields, Node's behind methods. */
type AnyResponse = ClientResponse & { status?: number; headers?: Record<string, string | number>; statusCode?: number; getHeader?(name: string): unknown; writableFinished?: boolean };

export class AccessLog {
  private readonly file: RotatingFile;
  private batch: string[] = [];
  private batchBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private lastReport = 0;

  constructor(logsDir: string, index: number, rotation: { maxBytes: number; keep: number }) {
    fs.mkdirSync(logsDir, { recursive: true, mode: 0o700 });
    this.file = new RotatingFile(path.join(logsDir, accessLogName(index)), { ...rotation, queueBytes: QUEUE_BYTES }, (m) => log('warn', `access log: ${m}`));
  }

  /** Starts a request's record; it is written when the response closes. */
  begin(req: ClientRequest, res: ClientResponse): void {
    const visit: Visit = { log: this, req, t0: performance.now(), target: pathMember(req.url ?? '/'), caller: '-' };
    (res as Noted)[NOTED] = visit;
    res.on('close', onClose);
  }

  append(line: string): void {
    this.batch.push(line);
    this.batchBytes += line.length;
    if (this.batchBytes >= BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(this.flushNow, FLUSH_MS).unref();
  }

  private readonly flushNow = () => this.flush();

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const lines = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (!this.file.write(lines.join(''))) this.drop(lines.length);
  }

  private drop(n: number): void {
    this.dropped += n;
    const now = Date.now();
    if (now - this.lastReport < REPORT_DROPS_MS) return;
    this.lastReport = now;
    log('warn', `access log: ${this.dropped} line(s) dropped so far: the disk takes them slower than requests come`);
  }

  /** Writes what is batched and closes the file (the gateway is stopping). */
  async close(): Promise<void> {
    this.flush();
    await this.file.close();
  }
}

/** What the router learned of a request: its function or flow, and who called (a token's name or "-"). */
export function noteTarget(res: ClientResponse, kind: 'function' | 'flow', name: string, caller: string): void {
  const v = (res as Noted)[NOTED];
  if (!v) return;
  v.target = `"${kind}":${JSON.stringify(name.slice(0, 128))}`;
  v.caller = caller;
}

function pathMember(url: string): string {
  const q = url.indexOf('?');
  return `"path":${JSON.stringify((q < 0 ? url : url.slice(0, q)).slice(0, 128))}`;
}

/** The shared 'close' listener of every noted response. */
function onClose(this: Noted): void {
  const v = this[NOTED];
  if (!v) return;
  this[NOTED] = undefined;
  const res = this as AnyResponse;
  const done = res.writableFinished ?? res.headersSent;
  const status = done ? (res.status ?? res.statusCode ?? 0) : CLIENT_GONE;
  const header = (name: string) => (res.headers ? res.headers[name] : res.getHeader?.(name));
  const rid = Number(header('x-request-id'));
  const out = done ? Number(header('content-length') ?? 0) : 0;
  const p = (v.req as WithExchange<ClientRequest>)[EXCHANGE];
  const bytesIn = p ? p.bytesIn || p.written : Math.max(0, v.req.contentLength ?? Number(v.req.headers['content-length'] ?? 0));
  const us = Math.round((performance.now() - v.t0) * 1000);
  v.log.append(`{"time":"${new Date().toISOString()}","requestId":${Number.isFinite(rid) ? rid : null},${v.target},"status":${status},"bytesIn":${bytesIn || 0},"bytesOut":${out || 0},"durationUs":${us},"caller":${JSON.stringify(v.caller)}}\n`);
}
