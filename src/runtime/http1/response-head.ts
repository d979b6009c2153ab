// A response's status line and headers, written as bytes straight into a buffer: no string is
// built per response (a head made by string concatenation was a tenth of what the gateway
// allocated per request). The status lines and the Date line are made once and copied.
import { STATUS_CODES } from 'node:http';
import { isToken } from './head.js';

const statusLines = new Map<number, Buffer>();
function statusLine(status: number): Buffer {
  let b = statusLines.get(status);
  if (!b) {
    b = Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`, 'latin1');
    if (statusLines.size < 128) statusLines.set(status, b);
  }
  return b;
}

/** The Date line, made again when the second changes (as Node does). */
let dateSecond = 0;
let dateLine = Buffer.alloc(0);
function date(): Buffer {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateLine = Buffer.from(`date: ${new Date(now).toUTCString()}\r\n`, 'latin1');
  }
  return dateLine;
}

const CLOSE = Buffer.from('connection: close\r\n', 'latin1');
/** Headers about the connection: written by the server from what it does, never passed through twice. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive']);

/**
 * What a kept-alive connection's responses say about it, as Node's server does: how long it stays
 * open idle, so a client's pool drops it before the server does instead of reusing it as it closes.
 */
export function keepAliveLine(timeoutMs: number): Buffer {
  return Buffer.from(`keep-alive: timeout=${Math.floor(timeoutMs / 1000)}\r\n`, 'latin1');
}

/** Header values Node accepts: no CR, LF, NUL or other control byte (names: tokens, head.ts). */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** Throws, as Node's writeHead does, for a header name or value HTTP cannot carry. */
export function checkHeaders(headers: Record<string, string | number>): void {
  for (const name in headers) {
    if (!isToken(name)) throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${name}"]`), { code: 'ERR_INVALID_HTTP_TOKEN' });
    const value = headers[name];
    if (typeof value !== 'number' && BAD_VALUE.test(value)) throw Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: 'ERR_INVALID_CHAR' });
  }
}

/** Writes a non-negative integer's digits at `at`; returns the end. */
function writeDecimal(out: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return at + out.write(String(n), at, 'latin1');
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  for (let i = at + digits - 1; i >= at; i--) {
    out[i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return at + digits;
}

/**
 * Writes the head into `out` from `at` (checked headers: checkHeaders). Returns where it ends, or
 * -1 when it does not fit.
 */
export function writeResponseHead(out: Buffer, at: number, status: number, headers: Record<string, string | number>, close: boolean, keepAlive: Buffer): number {
  const room = out.length - 128;
  let p = at + statusLine(status).copy(out, at);
  for (const name in headers) {
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    const value = headers[name];
    if (p + name.length + (typeof value === 'number' ? 20 : value.length) + 4 > room) return -1;
    p += out.write(name, p, 'latin1');
    out[p++] = 58;
    out[p++] = 32;
    p = typeof value === 'number' ? writeDecimal(out, p, value) : p + out.write(value, p, 'latin1');
    out[p++] = 13;
    out[p++] = 10;
  }
  p += date().copy(out, p);
  p += (close ? CLOSE : keepAlive).copy(out, p);
  out[p++] = 13;
  out[p++] = 10;
  return p;
}

/** The same head as a string: for one too large for a scratch buffer (headers a handler set). */
export function responseHeadString(status: number, headers: Record<string, string | number>, close: boolean, keepAlive: Buffer): string {
  let h = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
  for (const name in headers) if (!HOP_BY_HOP.has(name.toLowerCase())) h += `${name}: ${headers[name]}\r\n`;
  return `${h}${date().toString('latin1')}${(close ? CLOSE : keepAlive).toString('latin1')}\r\n`;
}
