// The gateway's access log (gateway.accessLog): one JSON line per finished request, written by this
// gateway to logs/access-<n>.log and rotated by bytes like every log (RotatingFile). It is on by
// default, so it must cost the request path next to nothing: the request path notes a small
// record on the response; when the response closes, its line is encoded at once into a batch
// buffer, and the buffer goes to the file every FLUSH_MS (or once full), one write for many lines.
// Nothing of a finished request stays on the JS heap: lines kept as strings for the batch's 200 ms
// outlived the young generation, and what is promoted is paid for again in every full GC.
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
  /** `"function":"echo"` or `"flow":"resize"` (a JSON member, escaped already); undefined: the request's path is logged. */
  target: string | undefined;
  caller: string;
}

type Noted = ClientResponse & { [NOTED]?: Visit };

/** A response of either parser: the light one keeps its status and headers as fields, Node's behind methods. */
type AnyResponse = ClientResponse & { status?: number; headers?: Record<string, string | number>; statusCode?: number; getHeader?(name: string): unknown; writableFinished?: boolean };

export class AccessLog {
  private readonly file: RotatingFile;
  private readonly batch = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private lines = 0;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private lastReport = 0;

  constructor(logsDir: string, index: number, rotation: { maxBytes: number; keep: number }) {
    fs.mkdirSync(logsDir, { recursive: true, mode: 0o700 });
    this.file = new RotatingFile(path.join(logsDir, accessLogName(index)), { ...rotation, queueBytes: QUEUE_BYTES }, (m) => log('warn', `access log: ${m}`));
  }

  /** Starts a request's record; it is written when the response closes. */
  begin(req: ClientRequest, res: ClientResponse): void {
    const visit: Visit = { log: this, req, t0: performance.now(), target: undefined, caller: '-' };
    (res as Noted)[NOTED] = visit;
    res.on('close', onClose);
  }

  append(line: string): void {
    // A UTF-8 encoding takes at most 3 bytes per UTF-16 unit.
    if (this.used + line.length * 3 > this.batch.length) {
      this.flush();
      if (line.length * 3 > this.batch.length) {
        if (!this.file.write(line)) this.drop(1);
        return;
      }
    }
    this.used += this.batch.write(line, this.used);
    this.lines++;
    this.timer ??= setTimeout(this.flushNow, FLUSH_MS).unref();
  }

  private readonly flushNow = () => this.flush();

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.used === 0) return;
    // A copy of the part used, and the batch buffer is reused: the file's queue then holds the
    // bytes it counts against queueBytes, not a 64 KiB buffer behind each 200 ms batch of one line.
    const lines = this.lines;
    const full = Buffer.from(this.batch.subarray(0, this.used));
    this.used = 0;
    this.lines = 0;
    if (!this.file.writeBytes(full)) this.drop(lines);
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
  v.target = member(kind === 'function' ? functionMembers : flowMembers, kind, name);
  v.caller = caller;
}

// The escaped members of the names requests come for, made once per name rather than per request.
// A client chooses the names it asks for (a 404's name is its own), so the caches are bounded.
const MEMBERS_KEPT = 4096;
const functionMembers = new Map<string, string>();
const flowMembers = new Map<string, string>();
const callerValues = new Map<string, string>();

function member(cache: Map<string, string>, kind: string, name: string): string {
  let m = cache.get(name);
  if (m === undefined) {
    m = `"${kind}":${JSON.stringify(name.slice(0, 128))}`;
    if (cache.size < MEMBERS_KEPT) cache.set(name, m);
  }
  return m;
}

/** A caller (a token's name, or "-") as a JSON string. */
function callerValue(caller: string): string {
  let s = callerValues.get(caller);
  if (s === undefined) {
    s = JSON.stringify(caller);
    if (callerValues.size < MEMBERS_KEPT) callerValues.set(caller, s);
  }
  return s;
}

function pathMember(url: string): string {
  const q = url.indexOf('?');
  return `"path":${JSON.stringify((q < 0 ? url : url.slice(0, q)).slice(0, 128))}`;
}

/**
 * The time as ISO 8601. Date's formatter runs once per second; the milliseconds are three digits
 * appended (at tens of thousands of lines a second, toISOString each millisecond showed in profiles).
 */
let isoSecond = -1;
let isoPrefix = '';
let isoMs = -1;
let iso = '';
function isoNow(): string {
  const now = Date.now();
  if (now === isoMs) return iso;
  isoMs = now;
  const second = Math.floor(now / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const ms = now - second * 1000;
  iso = `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  return iso;
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
  v.log.append(`{"time":"${isoNow()}","requestId":${Number.isFinite(rid) ? rid : null},${v.target ?? pathMember(v.req.url ?? '/')},"status":${status},"bytesIn":${bytesIn || 0},"bytesOut":${out || 0},"durationUs":${us},"caller":${callerValue(v.caller)}}\n`);
}
