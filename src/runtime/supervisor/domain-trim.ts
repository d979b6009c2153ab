// A domain segment (a memfd) holds in RAM every page a packet was ever written through, and each
// size class reserves packets for the whole budget: a domain whose bodies change size over time
// would come to hold several times its budget (memory-room.ts counts a domain segment for its
// tables and its budget, and a pod's memory limit is sized the same). Checked every second with the domains' headers: a
// segment that holds more than that gives the pages of free packets back, largest first, down to
// an eighth of its budget below it, so the next trim is not needed at once.
import { Segment } from '../../shm/segment.js';
import { holdable } from '../../shm/space.js';
import { trimPackets } from '../../shm/pool-trim.js';
import { sys } from '../../sys/binding.js';

/** Bytes given back (0: the segment holds no more than it may). */
export function trimSegment(seg: Segment): number {
  if (seg.isClosed || !seg.writable) return 0;
  const may = holdable(seg.layout);
  let touched: number;
  try {
    // Its own descriptor's: by name, a domain rebuilt meanwhile could be the other memfd.
    touched = Segment.stat(seg).touched;
  } catch {
    return 0;
  }
  if (touched <= may) return 0;
  return trimPackets(seg, process.pid, touched - (may - seg.layout.budget / 8), (view, offset, length) => sys.releasePages(view, offset, length));
}
