// Keeps read-only mappings of an instance's segments across restarts of the instance: when a
// segment goes away its mapping is dropped at once (holding it would keep a dead instance's memory
// alive), and when a new one appears under a name (the instance restarted, a domain was added or
// rebuilt) it is mapped afresh. Listing an instance's segments reads the supervisor's descriptors
// (its domain segments are memfds): a follower polled every second may do that less often
// (`recheckMs`), checking meanwhile only that the runtime segment is still the same file.
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
  /** When the segments were last listed, and the runtime segment's inode then. */
  private listed = { at: 0, ino: undefined as number | undefined };

  /** `recheckMs`: list the instance's segments at most this often while its runtime segment stays (0: every call). */
  constructor(
    readonly instance: string,
    private readonly recheckMs = 0,
  ) {
    this.runtime = segmentName(instance);
  }

  current(): Followed {
    const now = Date.now();
    if (this.view && now - this.listed.at < this.recheckMs && this.listed.ino !== undefined && inodeOf(segmentPath(this.runtime)) === this.listed.ino) return { view: this.view, reason: null };
    const entries = Segment.ofInstance(this.instance);
    const runtime = entries.find((e) => e.name === this.runtime);
    if (!runtime) {
      this.drop();
      return { view: null, reason: `waiting for instance: no segment ${segmentPath(this.runtime)}` };
    }
    const key = inodes(entries);
    this.listed = { at: now, ino: runtime.memfd ? undefined : inodeOf(runtime.path) };
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
