// The gateways' access logs: one file per gateway in the logs directory (access-<n>.log, rotated
// like the others), one JSON object a line. Named and found here, for the gateways that write them
// and for `faasflow logs --access`; `faasflow logs` without it shows the processes' logs only.
import fs from 'node:fs';
import path from 'node:path';

const ACCESS_RE = /^access-\d+\.log$/;

/** Gateway `index`'s access log, in the logs directory. */
export function accessLogName(index: number): string {
  return `access-${index}.log`;
}

export function isAccessLog(name: string): boolean {
  return ACCESS_RE.test(name);
}

/** Every gateway's current access log in `dir` (rotated ones are not). */
export function accessLogFiles(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter(isAccessLog).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** Where a line's time is: every line starts `{"time":"<ISO time>"`, so lines sort by it as text. */
export const ACCESS_TIME_AT = '{"time":"'.length;

/**
 * The stats row where gateways count requests for functions that do not exist (function ids start
 * at 1, so row 0 is no function's): its request counter is faasflow_unknown_function_total.
 */
export const UNKNOWN_FUNCTION_ROW = 0;
