// The type check of `up` and `deploy`, remembered: loading the TypeScript compiler and checking
// takes seconds, and `up` must stay fast. A check that passed is recorded under a key made of
// what decides its result: the handlers' contents, the node_modules directories their imports
// resolve in, the compiler's version and the check itself (check.js, its options). The record
// lists every other file the check read, with its hash; it counts only while those are unchanged.
// Content-addressed, so one cache serves every instance of the user (and a test's fresh project
// with a handler an earlier one had). Failures are not recorded: they are checked (and reported)
// again. This module does not load the compiler; only a miss does.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where checks that passed are recorded: $XDG_CACHE_HOME/faasflow/checks, else ~/.cache/faasflow/checks. */
export function checkCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME ? path.resolve(process.env.XDG_CACHE_HOME) : path.join(home(), '.cache');
  return path.join(base, 'faasflow', 'checks');
}

function home(): string {
  try {
    return process.env.HOME || os.homedir();
  } catch {
    return path.join(os.tmpdir(), `faasflow-cache-${process.getuid?.() ?? 0}`);
  }
}

/** Records kept: the oldest go past this many. */
const KEEP = 200;

/** A dependency: [index of the handler whose directory holds it (-1: none), its path (relative to that directory, else absolute), sha256]. */
type Dep = [number, string, string];

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

function readHash(file: string): string | undefined {
  try {
    return sha(fs.readFileSync(file));
  } catch {
    return undefined;
  }
}

function nodeModulesOf(start: string): string[] {
  const out: string[] = [];
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules'))) out.push(dir);
    if (path.dirname(dir) === dir) return out;
  }
}

function keyOf(files: string[]): string | undefined {
  const req = createRequire(import.meta.url);
  const parts: (string | string[] | undefined)[] = [readHash(req.resolve('typescript/package.json')), readHash(fileURLToPath(new URL('./check.js', import.meta.url)))];
  for (const f of files) parts.push(readHash(f), nodeModulesOf(path.dirname(f)));
  return parts.includes(undefined) ? undefined : sha(JSON.stringify(parts));
}

function depPath(files: string[], dep: [number, string]): string {
  return dep[0] >= 0 ? path.resolve(path.dirname(files[dep[0]]), dep[1]) : dep[1];
}

function record(files: string[], deps: string[]): Dep[] {
  return deps.map((d): Dep => {
    const i = files.findIndex((f) => d.startsWith(`${path.dirname(f)}${path.sep}`) && !path.relative(path.dirname(f), d).split(path.sep).includes('node_modules'));
    return [i, i >= 0 ? path.relative(path.dirname(files[i]), d) : d, readHash(d) ?? ''];
  });
}

/** Checks `files` (absolute) and returns every other file the check read; throws the problems found. */
export type HandlerCheck = (files: string[]) => Promise<string[]>;

/** The check in this process: loads the TypeScript compiler (seconds). */
export const checkHere: HandlerCheck = async (files) => (await import('./check.js')).checkHandlers(files);

/**
 * Type-checks the handler sources with `check` (check.ts in this process unless told otherwise:
 * deploy asks the instance's warm checker), unless the same check passed before with every file
 * it read unchanged. Throws the check's error. Returns whether the record answered.
 */
export async function checkHandlersCached(sources: string[], cacheDir = checkCacheDir(), check: HandlerCheck = checkHere): Promise<{ cached: boolean }> {
  const files = sources.map((s) => path.resolve(s));
  const key = keyOf(files);
  const file = key ? path.join(cacheDir, `${key}.json`) : undefined;
  if (file) {
    try {
      const deps = (JSON.parse(fs.readFileSync(file, 'utf8')) as { deps: Dep[] }).deps;
      if (deps.every((d) => readHash(depPath(files, [d[0], d[1]])) === d[2])) return { cached: true };
    } catch {
      // no record, or one we cannot read: check
    }
  }
  const deps = await check(files);
  if (file) remember(cacheDir, file, record(files, deps));
  return { cached: false };
}

/** Writes a record (a cache that cannot be written only costs the next check). */
function remember(dir: string, file: string, deps: Dep[]): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ deps }), { mode: 0o600 });
    fs.renameSync(tmp, file);
    const all = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
    if (all.length > KEEP) {
      const byAge = all.map((n) => ({ n, t: fs.statSync(path.join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
      for (const { n } of byAge.slice(0, all.length - KEEP)) fs.rmSync(path.join(dir, n), { force: true });
    }
  } catch {
    // read-only home, full disk: the check ran, only its record is lost
  }
}
