// What readers other than the supervisor take from an instance's runtime directory (owned by the
// control plane, src/control/paths.ts): log files and function names. Both are optional: the
// segment alone is enough for every number.
import fs from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../config/types.js';
import { runtimeDirFor } from '../control/paths.js';

/** The explicit directory, else where the control plane puts `instance`'s ($FAASFLOW_RUNTIME_DIR first). */
export function runtimeDirFrom(flag: string | undefined, instance: string): string {
  return flag ? path.resolve(flag) : runtimeDirFor(instance);
}

/** Directories whose *.log files are the instance's per-process logs. */
export function logDirs(runtimeDir: string): string[] {
  return [path.join(runtimeDir, 'logs')];
}

/** Function names and observe settings from <runtimeDir>/config.json, re-read when it changes. */
export class ConfigReader {
  private mtime = -1;
  private names = new Map<number, string>();
  private warn: number | null = null;

  constructor(private readonly runtimeDir: string | null) {}

  private refresh(): void {
    if (!this.runtimeDir) return;
    const file = path.join(this.runtimeDir, 'config.json');
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return;
    }
    if (st.mtimeMs === this.mtime) return;
    this.mtime = st.mtimeMs;
    try {
      const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ResolvedConfig>;
      this.names = new Map((cfg.functions ?? []).map((f) => [f.id, f.name]));
      this.warn = cfg.observe?.shmWarnPercent ?? null;
    } catch {
      // being rewritten: keep what we had, try again next time
    }
  }

  functionNames(): Map<number, string> {
    this.refresh();
    return this.names;
  }

  shmWarnPercent(): number | null {
    this.refresh();
    return this.warn;
  }
}
