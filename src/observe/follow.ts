// Keeps a read-only mapping of an instance's segment across restarts of the instance: when the
// file goes away the mapping is dropped at once (holding it would keep a dead instance's memory
// alive), and when a new file appears under the name it is mapped afresh.
import fs from 'node:fs';
import { Segment } from '../shm/index.js';
import { segmentPath } from './procfs.js';

export interface Followed {
  seg: Segment | null;
  /** Why there is no segment: not created yet, half-created, unreadable. */
  reason: string | null;
}

export class SegmentFollower {
  private seg: Segment | null = null;
  private ino = -1;

  constructor(readonly name: string) {}

  current(): Followed {
    let ino: number;
    try {
      ino = fs.statSync(segmentPath(this.name)).ino;
    } catch {
      this.drop();
      return { seg: null, reason: `waiting for instance: no segment ${segmentPath(this.name)}` };
    }
    if (this.seg && ino === this.ino) return { seg: this.seg, reason: null };
    this.drop();
    try {
      this.seg = Segment.open(this.name, false);
      this.ino = ino;
      return { seg: this.seg, reason: null };
    } catch (err) {
      // A segment being created has no magic yet; the next poll will find it complete.
      return { seg: null, reason: `waiting for instance: ${(err as Error).message}` };
    }
  }

  private drop(): void {
    this.seg?.close();
    this.seg = null;
    this.ino = -1;
  }

  close(): void {
    this.drop();
  }
}
