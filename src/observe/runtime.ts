// What readers other than the supervisor take from an instance's runtime directory (its files are
// named in src/common/paths.ts): function names, flows, the supervisor's record of its children.
// All optional: the segment alone is enough for every number.
import fs from 'node:fs';
import type { FlowConfig, ResolvedConfig } from '../config/types.js';
import type { ChildStatus, InstanceStatus } from '../common/protocol.js';
import { readJson } from '../common/state.js';
import { instanceFiles } from '../common/paths.js';

/**
 * Function names (config.json, then state.json for functions deployed since), the /dev/shm
 * warning threshold and the supervisor's record of its children, re-read when either file changes.
 * The files are looked at (stat) at most every `recheckMs`: a refresh of `top` asks for all four
 * things, and one look answers them all.
 */
export class ConfigReader {
  private stamp = '';
  private names = new Map<number, string>();
  private flowList: FlowConfig[] = [];
  private warn: number | null = null;
  private kids: ChildStatus[] = [];
  private checkedAt = -Infinity;

  constructor(
    private readonly runtimeDir: string | null,
    private readonly recheckMs = 0,
  ) {}

  private refresh(): void {
    if (!this.runtimeDir) return;
    const now = performance.now();
    if (now - this.checkedAt < this.recheckMs) return;
    this.checkedAt = now;
    const { config, state: stateFile } = instanceFiles(this.runtimeDir);
    const files = [config, stateFile];
    const stamp = files.map((f) => fs.statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0).join(',');
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    const cfg = readJson<Partial<ResolvedConfig>>(files[0]);
    const state = readJson<Partial<InstanceStatus>>(files[1]);
    const names = new Map<number, string>();
    for (const f of [...(cfg?.functions ?? []), ...(state?.functions ?? [])]) if (typeof f?.id === 'number' && typeof f.name === 'string') names.set(f.id, f.name);
    this.names = names;
    this.flowList = Array.isArray(cfg?.flows) ? cfg.flows.filter((f) => typeof f?.name === 'string' && typeof f.statsId === 'number' && Array.isArray(f.steps)) : [];
    this.warn = cfg?.observe?.shmWarnPercent ?? this.warn;
    // A missing or half-written state file (the supervisor is gone or writing) keeps no records.
    this.kids = Array.isArray(state?.children) ? state.children.filter((c) => typeof c?.pid === 'number') : [];
  }

  /** The supervisor's record of every process it runs (state.json), for why each last exited. */
  children(): ChildStatus[] {
    this.refresh();
    return this.kids;
  }

  functionNames(): Map<number, string> {
    this.refresh();
    return this.names;
  }

  /** The flows of the instance's config (their stats rows, steps and names). */
  flows(): FlowConfig[] {
    this.refresh();
    return this.flowList;
  }

  shmWarnPercent(): number | null {
    this.refresh();
    return this.warn;
  }
}
