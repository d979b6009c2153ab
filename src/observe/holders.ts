// Which processes map the instance's segments (a scan of every /proc/<pid>/maps), kept between
// snapshots and redone at most every `holdersMs` or when the set of segments changes (another
// name, or another file under a name: a rebuilt domain's memfd).
import type { InstanceView } from './instance.js';
import { commandLine, scanHolders, scanHoldersAsync, type HolderTarget, type MappedBy } from './procfs.js';

export type HolderRecord = MappedBy & { command: string };

export class Holders {
  /** The last scan: when, of which segments (names and inodes joined), what it found by segment name. */
  private last: { at: number; key: string; by: Map<string, HolderRecord[]> } = { at: 0, key: '', by: new Map() };

  constructor(private readonly everyMs: number) {}

  of(segment: string): HolderRecord[] {
    return this.last.by.get(segment) ?? [];
  }

  /** Scans now, on the event loop, if a scan is due. */
  scanIfDue(view: InstanceView, now: number): void {
    const segments = view.segments();
    const key = keyOf(segments);
    if (this.due(key, now)) this.keep(now, key, segments, scanHolders(segments, { exclude: [process.pid] }));
  }

  /** Starts a scan with the reads off the event loop, if one is due; resolves when it is kept. */
  async prefetch(view: InstanceView, now: number): Promise<void> {
    const segments = view.segments();
    const key = keyOf(segments);
    if (this.due(key, now)) this.keep(now, key, segments, await scanHoldersAsync(segments, { exclude: [process.pid] }));
  }

  private due(key: string, now: number): boolean {
    return this.last.key !== key || now - this.last.at >= this.everyMs;
  }

  private keep(at: number, key: string, segments: HolderTarget[], found: Map<string, MappedBy[]>): void {
    this.last = { at, key, by: new Map(segments.map(({ name }) => [name, (found.get(name) ?? []).map((h) => ({ ...h, command: commandLine(h.pid) }))])) };
  }
}

const keyOf = (segments: HolderTarget[]) => segments.map((s) => `${s.name}:${s.ino ?? ''}`).join(',');
