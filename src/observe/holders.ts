// Which processes map the instance's segments (a scan of every /proc/<pid>/maps), kept between
// snapshots and redone at most every `holdersMs` or when the set of segments changes (another
// name, or another file under a name: a rebuilt domain's memfd).
//
// Reading every process's maps costs tens of milliseconds on a busy machine, nearly all of it on
// processes that have nothing to do with faasflow. With `fullEveryMs` longer than `holdersMs`
// (`top`), the scans in between look only at the processes that are new since the last full scan
// and held nothing at the last scan: a process that was there at the full scan and held nothing is
// taken to hold nothing still until the next full scan, and one that held a segment at the last
// scan and is still there to hold it still (its maps are not read again: a Node process's run to
// hundreds of lines, the supervisor's to 600). Between full scans, a scan finding the same
// processes in /proc as the last one reads no maps at all: a faasflow process maps the segments
// when it starts and unmaps them when it exits, so who holds them changes with the set of
// processes (a process that maps or unmaps one later shows at the next full scan).
import type { InstanceView } from './instance.js';
import { allPids, commandLine, scanHolders, scanHoldersAsync, type HolderTarget, type MappedBy } from './procfs.js';

export type HolderRecord = MappedBy & { command: string };

export class Holders {
  /** The last scan: when, of which segments (names and inodes joined), what it found by segment name. */
  private last: { at: number; key: string; by: Map<string, HolderRecord[]> } = { at: 0, key: '', by: new Map() };

  /** Processes that held none of the segments at the last full scan, and when that was. */
  private quiet = new Set<number>();
  private fullAt = -Infinity;
  /** /proc's processes at the last scan (readdir order: by pid), and the holders' command lines by pid. */
  private pids: number[] = [];
  private commands = new Map<number, string>();

  constructor(
    private readonly everyMs: number,
    private readonly fullEveryMs = everyMs,
  ) {}

  of(segment: string): HolderRecord[] {
    return this.last.by.get(segment) ?? [];
  }

  /** Scans now, on the event loop, if a scan is due. */
  scanIfDue(view: InstanceView, now: number): void {
    const segments = view.segments();
    const key = keyOf(segments);
    if (!this.due(key, now)) return;
    const all = allPids();
    const full = this.last.key !== key || now - this.fullAt >= this.fullEveryMs;
    const same = all.length === this.pids.length && all.every((pid, i) => pid === this.pids[i]);
    this.pids = all;
    if (!full && same && this.fullEveryMs > this.everyMs) {
      this.last.at = now;
      return;
    }
    const alive = new Set(all);
    const held = full ? [] : this.heldBy(alive);
    const known = new Set(held.map(([, h]) => h.pid));
    const found = scanHolders(segments, { exclude: [process.pid], pids: full ? all : all.filter((pid) => !this.quiet.has(pid) && !known.has(pid)) });
    for (const [name, h] of held) found.set(name, [...(found.get(name) ?? []), h].sort((a, b) => a.pid - b.pid));
    if (full) {
      const holding = new Set([...found.values()].flat().map((h) => h.pid));
      this.quiet = new Set(all.filter((pid) => !holding.has(pid)));
      this.fullAt = now;
    }
    this.keep(now, key, segments, found);
  }

  /** Starts a scan with the reads off the event loop, if one is due; resolves when it is kept. */
  async prefetch(view: InstanceView, now: number): Promise<void> {
    const segments = view.segments();
    const key = keyOf(segments);
    if (this.due(key, now)) this.keep(now, key, segments, await scanHoldersAsync(segments, { exclude: [process.pid] }));
  }

  /** The last scan's holders still in /proc, by segment name. */
  private heldBy(alive: Set<number>): [string, MappedBy][] {
    return [...this.last.by].flatMap(([name, hs]) => hs.filter((h) => alive.has(h.pid)).map((h): [string, MappedBy] => [name, { pid: h.pid, writes: h.writes }]));
  }

  private due(key: string, now: number): boolean {
    return this.last.key !== key || now - this.last.at >= this.everyMs;
  }

  private keep(at: number, key: string, segments: HolderTarget[], found: Map<string, MappedBy[]>): void {
    // A pid's command line is read once: a holder keeps it until it exits or execs (and exec unmaps).
    const commands = new Map<number, string>();
    const command = (pid: number) => {
      const c = commands.get(pid) ?? this.commands.get(pid) ?? commandLine(pid);
      commands.set(pid, c);
      return c;
    };
    this.last = { at, key, by: new Map(segments.map(({ name }) => [name, (found.get(name) ?? []).map((h) => ({ ...h, command: command(h.pid) }))])) };
    this.commands = commands;
  }
}

const keyOf = (segments: HolderTarget[]) => segments.map((s) => `${s.name}:${s.ino ?? ''}`).join(',');
