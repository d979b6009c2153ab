// Pieces of a request's URL that both the synchronous routes (http.ts) and the async ones
// (async.ts) read: a function's id and a percent-decoded name. By hand, not regular expressions:
// these run for every request.

/** Function ids are small non-negative integers (they index the stats table). */
export const MAX_ID = 0x7fffffff;

/** 1-10 decimal digits as a number (a function id if at most MAX_ID), else -1. */
export function parseId(seg: string): number {
  if (seg.length === 0 || seg.length > 10) return -1;
  let n = 0;
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** decodeURIComponent throws on a malformed escape ("%zz"); a client's typo must not become a 500. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
