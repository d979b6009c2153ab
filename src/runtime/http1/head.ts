// The head of an HTTP/1.1 request, parsed from the bytes on a connection. Only the plain shape a
// function call has is accepted here: a request line, header lines ended by CRLF, a Content-Length
// or no body. Everything else (chunked bodies, "Expect", upgrades, HTTP/1.0, obsolete folding, a
// byte HTTP forbids, a missing Host) is UNSUPPORTED, and the connection is handed to Node's own
// parser, which implements all of HTTP and answers malformed input with its 400s. So this parser
// never has to be right about the hard cases: it has to be sure it is looking at an easy one.
// It makes no strings but the method's and the URL's: header lines stay bytes until asked for.

/** Not all of the head has arrived yet. */
export const INCOMPLETE = 0;
/** Not a head this parser takes: Node's parser gets the connection. */
export const UNSUPPORTED = 1;

/** Heads longer than this go to Node's parser, which answers 431 past its own limit. */
export const MAX_HEAD = 16 * 1024;

export interface Head {
  method: string;
  url: string;
  /** Where the header lines start and end (each ends with CRLF; the blank line is not included). */
  linesStart: number;
  linesEnd: number;
  /** The Content-Length, -1 when there is none (no body). */
  contentLength: number;
  /** "Connection: close": the connection ends after this request's response. */
  close: boolean;
  /** Where the head ends: its blank line's last byte + 1. */
  end: number;
}

/** The one result parseHead fills: read at once by the caller, so no object per request. */
const HEAD: Head = { method: '', url: '', linesStart: 0, linesEnd: 0, contentLength: -1, close: false, end: 0 };

export const CR = 13;
export const LF = 10;
const SP = 32;
export const COLON = 58;
const HTAB = 9;

/** tchar of RFC 9110: the bytes a header name may have. */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TOKEN[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN[c] = TOKEN[c + 32] = 1;

/** Whether `name` is a token (a valid header name). */
export function isToken(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 255 || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** The method names are interned: the common ones cost no string. */
const METHODS = new Map(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'].map((m) => [m, m]));
const internMethod = (m: string): string => METHODS.get(m) ?? m;
const HTTP11 = Buffer.from(' HTTP/1.1', 'latin1');

/** Whether buf[at..at+name.length) is `name` (lower-case ASCII letters and '-') in any case. */
function named(buf: Buffer, at: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if ((buf[at + i] | 0x20) !== name.charCodeAt(i)) return false;
  return true;
}

/** Whether a Connection value names the token `token` (lower-case) among its comma-separated ones. */
function hasToken(buf: Buffer, from: number, to: number, token: string): boolean {
  for (let i = from; i + token.length <= to; i++) {
    if ((i === from || buf[i - 1] === 44 || buf[i - 1] === SP || buf[i - 1] === HTAB) && named(buf, i, token)) {
      const after = i + token.length;
      if (after === to || buf[after] === 44 || buf[after] === SP || buf[after] === HTAB) return true;
    }
  }
  return false;
}

/**
 * Parses the head at `buf[from..]`. Returns INCOMPLETE, UNSUPPORTED, or the head (the same object
 * every time: read it before the next call). A head longer than MAX_HEAD is UNSUPPORTED.
 */
export function parseHead(buf: Buffer, from: number): Readonly<Head> | typeof INCOMPLETE | typeof UNSUPPORTED {
  const end = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (end < 0) return buf.length - from > MAX_HEAD ? UNSUPPORTED : INCOMPLETE;
  if (end - from > MAX_HEAD) return UNSUPPORTED;
  // Request line: METHOD SP request-target SP HTTP/1.1 CRLF, the target in origin form.
  let i = from;
  while (i < end && buf[i] >= 65 && buf[i] <= 90) i++;
  if (i === from || i - from > 16 || buf[i] !== SP) return UNSUPPORTED;
  const method = i - from === 4 && named(buf, from, 'post') ? 'POST' : internMethod(buf.toString('latin1', from, i));
  const target = ++i;
  if (buf[i] !== 47 /* / */) return UNSUPPORTED;
  while (i < end && buf[i] > SP && buf[i] < 127) i++;
  const line = i + HTTP11.length;
  if (HTTP11.compare(buf, i, line) !== 0 || buf[line] !== CR || buf[line + 1] !== LF) return UNSUPPORTED;
  const h = HEAD;
  h.method = method;
  h.url = buf.toString('latin1', target, i);
  h.linesStart = line + 2;
  h.linesEnd = end + 2;
  h.contentLength = -1;
  h.close = false;
  h.end = end + 4;
  let host = false;
  let at = line + 2;
  // Header lines: name ":" OWS value OWS CRLF. Values may hold HTAB, visible ASCII and obs-text.
  while (at < end + 2) {
    let c = at;
    while (TOKEN[buf[c]] === 1) c++;
    if (c === at || buf[c] !== COLON) return UNSUPPORTED;
    let v = c + 1;
    while (buf[v] === SP || buf[v] === HTAB) v++;
    let e = v;
    while (buf[e] >= SP ? buf[e] !== 127 : buf[e] === HTAB) e++;
    if (buf[e] !== CR || buf[e + 1] !== LF) return UNSUPPORTED;
    let ve = e;
    while (ve > v && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
    switch (c - at) {
      case 4:
        if (named(buf, at, 'host')) host = true;
        break;
      case 6:
        if (named(buf, at, 'expect')) return UNSUPPORTED;
        break;
      case 7:
        if (named(buf, at, 'upgrade')) return UNSUPPORTED;
        break;
      case 10:
        if (named(buf, at, 'connection')) {
          if (hasToken(buf, v, ve, 'upgrade')) return UNSUPPORTED;
          if (hasToken(buf, v, ve, 'close')) h.close = true;
        }
        break;
      case 14:
        if (named(buf, at, 'content-length')) {
          // One plain decimal, once: anything else is for Node's parser to refuse.
          if (h.contentLength >= 0 || ve === v || ve - v > 15) return UNSUPPORTED;
          let n = 0;
          for (let d = v; d < ve; d++) {
            const digit = buf[d] - 48;
            if (digit < 0 || digit > 9) return UNSUPPORTED;
            n = n * 10 + digit;
          }
          h.contentLength = n;
        }
        break;
      case 17:
        if (named(buf, at, 'transfer-encoding')) return UNSUPPORTED;
        break;
    }
    at = e + 2;
  }
  return host ? h : UNSUPPORTED;
}
