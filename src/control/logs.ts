// Reading an instance's logs (<runtimeDir>/logs/*.log): the last lines of several files merged by
// their timestamps, and following them across rotation (a file that shrinks was rotated).
import fs from 'node:fs';
import path from 'node:path';

export function logFiles(dir: string, functionId?: number): string[] {
  if (functionId !== undefined) return [path.join(dir, `fn-${functionId}.log`)];
  try {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

function readLines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** The last `n` lines across `files`, oldest first (lines start with an ISO timestamp). */
export function tailLines(files: string[], n: number): string[] {
  // slice(-0) is the whole array: "no lines" must be said explicitly.
  if (n <= 0) return [];
  const all: string[] = [];
  for (const f of files) {
    let lines = readLines(f);
    // Not enough in the current file: the newest rotated one (.1) holds what came before.
    if (lines.length < n) lines = [...readLines(`${f}.1`), ...lines];
    all.push(...lines.slice(-n));
  }
  return all.sort((a, b) => (a.slice(0, 24) < b.slice(0, 24) ? -1 : a.slice(0, 24) > b.slice(0, 24) ? 1 : 0)).slice(-n);
}

/** Calls `onLine` for each line appended to the files from now on, until `signal` aborts. */
export async function followLines(list: () => string[], onLine: (line: string) => void, signal: AbortSignal, pollMs = 250): Promise<void> {
  const offsets = new Map<string, number>();
  const size = (f: string) => {
    try {
      return fs.statSync(f).size;
    } catch {
      return 0;
    }
  };
  for (const f of list()) offsets.set(f, size(f));
  while (!signal.aborted) {
    await new Promise((r) => setTimeout(r, pollMs));
    for (const f of list()) {
      const now = size(f);
      let from = offsets.get(f) ?? 0;
      if (now < from) from = 0;
      if (now === from) continue;
      const fd = fs.openSync(f, 'r');
      try {
        const buf = Buffer.alloc(now - from);
        fs.readSync(fd, buf, 0, buf.length, from);
        const text = buf.toString('utf8');
        const end = text.lastIndexOf('\n');
        if (end < 0) continue;
        for (const line of text.slice(0, end).split('\n')) if (line) onLine(line);
        offsets.set(f, from + Buffer.byteLength(text.slice(0, end + 1)));
      } finally {
        fs.closeSync(fd);
      }
    }
  }
}
