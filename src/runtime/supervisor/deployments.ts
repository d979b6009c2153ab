// Deployed functions survive a supervisor restart: deployments.json in the runtime directory keeps
// each `faasflow deploy` (its bundle stays in bundles/) and the last deployment number per id, so
// numbers only ever grow and a restarted gateway never confuses two versions.
import fs from 'node:fs';
import path from 'node:path';
import type { FunctionConfig } from '../../config/types.js';
import { readJson, writeJsonAtomic } from '../../common/state.js';

export interface FnEntry extends FunctionConfig {
  deployment: number;
  /** Bundled module the containers import. */
  bundle: string;
  /** Handler source it was built from. */
  source: string;
  origin: 'config' | 'deploy';
}

interface DeploymentsFile {
  counters: Record<string, number>;
  functions: FnEntry[];
}

export class Deployments {
  private readonly counters: Record<string, number>;
  readonly persisted: FnEntry[];

  constructor(private readonly file: string) {
    const f = readJson<DeploymentsFile>(file);
    this.counters = f?.counters ?? {};
    this.persisted = (f?.functions ?? []).filter((e) => fs.existsSync(e.bundle));
  }

  /** The next deployment number for function `id`. */
  next(id: number): number {
    const n = (this.counters[id] ?? 0) + 1;
    this.counters[id] = n;
    return n;
  }

  save(functions: Iterable<FnEntry>): void {
    writeJsonAtomic(this.file, { counters: this.counters, functions: [...functions].filter((f) => f.origin === 'deploy') } satisfies DeploymentsFile);
  }
}

/** Removes bundle directories no function uses any more. */
export function pruneBundles(bundlesDir: string, inUse: Iterable<string>): void {
  const keep = new Set([...inUse].map((b) => path.dirname(b)));
  let dirs: string[];
  try {
    dirs = fs.readdirSync(bundlesDir);
  } catch {
    return;
  }
  for (const d of dirs) {
    const full = path.join(bundlesDir, d);
    if (!keep.has(full)) fs.rmSync(full, { recursive: true, force: true });
  }
}
