// Keeps read-only mappings of an instance's segments across restarts of the instance: when a
// segment goes away its mapping is dropped at once (holding it would keep a dead instance's memory
// alive), and when a new one appears under a name (the instance restarted, a domain was added or
// rebuilt) it is mapped afresh.
import { Segment, segmentName, type SegmentEntry } from '../shm/index.js';
import { inodeOf } from '../shm/locate.js';
import { InstanceView } from './instance.js';
import { segmentPath } from '../common/paths.js';

export interface Followed {
  view: InstanceView | null;
  /** Why there is no view: not created yet, half-created, unreadable. */
  reason: string | null;
}

/** The inode of each segment: a new file (or memfd) under the same name has another one. */
function inodes(entries: SegmentEntry[]): string {
  return entries.map((e) => `${e.name}:${inodeOf(e.path) ?? '-'}`).join(',');
}

export class InstanceFollower {
  private view: InstanceView | null = null;
  private key = '';
  private readonly runtime: string;

  constructor(readonly instance: string) {
    this.runtime = segmentName(instance);
  }

  current(): Followed {
    const entries = Segment.ofInstance(this.instance);
    const runtime = entries.find((e) => e.name === this.runtime);
    if (!runtime) {
      this.drop();
      return { view: null, reason: `waiting for instance: no segment ${segmentPath(this.runtime)}` };
    }
    const key = inodes(entries);
    if (this.view && key === this.key) return { view: this.view, reason: null };
    this.drop();
    try {
      this.view = InstanceView.open(runtime, entries.filter((e) => e !== runtime));
      this.key = key;
      return { view: this.view, reason: null };
    } catch (err) {
      // A segment being created has no magic yet; the next poll will find it complete.
      return { view: null, reason: `waiting for instance: ${(err as Error).message}` };
    }
  }

  private drop(): void {
    this.view?.close();
    this.view = null;
    this.key = '';
  }

  close(): void {
    this.drop();
  }
}
