// One `faasflow up` of an instance at a time. Two at once would each see no instance, each start
// a supervisor, and each one's failure cleanup would tear down the other's files.
import fs from 'node:fs';
import { FaasflowError } from '../common/errors.js';
import type { InstancePaths } from '../common/paths.js';
import { processAlive, startTime } from '../common/procs.js';

/**
 * Takes the instance's start lock; returns its release. The lock file holds the holder's pid and
 * start time, and appears with them in it (written aside, then hard-linked into place: a reader
 * never sees it empty). A lock whose holder died, or whose pid now names another process, is
 * taken over.
 */
export function lockStart(p: InstancePaths): () => void {
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const file = p.lock;
  const mine = `${process.pid} ${startTime(process.pid)}\n`;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, mine, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.linkSync(tmp, file);
        return () => {
          if (read(file) === mine) fs.rmSync(file, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const seen = read(file);
      if (seen === undefined) continue; // released meanwhile
      if (holding(seen)) throw inProgress(p, seen);
      // Left by an `up` that died. Move it aside and drop it only if it is still the one judged
      // stale: another `up` may have taken it over in between.
      const aside = `${file}.${process.pid}.stale`;
      try {
        fs.renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = read(aside);
      if (moved !== seen && moved !== undefined && holding(moved)) {
        try {
          fs.linkSync(aside, file);
        } catch {
          // a third `up` took the free lock meanwhile: it holds it now
        }
        fs.rmSync(aside, { force: true });
        throw inProgress(p, moved);
      }
      fs.rmSync(aside, { force: true });
    }
    throw new FaasflowError('ALREADY_RUNNING', `could not take the start lock ${file}: another \`faasflow up\` keeps taking it`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function holderOf(text: string): { pid: number; start: number } {
  const [pid, start] = text.trim().split(/\s+/).map(Number);
  return { pid: pid || 0, start: start || 0 };
}

/** Is the lock's holder still running (the same process, not a reused pid)? */
function holding(text: string): boolean {
  const h = holderOf(text);
  if (h.pid === process.pid || !processAlive(h.pid)) return false;
  return !h.start || startTime(h.pid) === h.start;
}

function inProgress(p: InstancePaths, text: string): FaasflowError {
  return new FaasflowError('ALREADY_RUNNING', `another \`faasflow up\` of instance "${p.instance}" is in progress (pid ${holderOf(text).pid}): wait for it to finish, then \`faasflow ps --instance ${p.instance}\``);
}
