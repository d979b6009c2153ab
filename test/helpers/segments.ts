// Test segments get unique names and are removed in teardown, whether the test passed or not.
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { Segment, type CreateOptions } from '../../src/shm/index.js';

export function uniqueName(tag = 'test'): string {
  return `/faasflow-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Creates a segment that is unmapped and unlinked when `t` ends. */
export function tempSegment(t: Test, o: Partial<CreateOptions> = {}): Segment {
  const name = o.name ?? uniqueName();
  const seg = Segment.create({ size: 64 << 20, ...o, name });
  t.teardown(() => {
    seg.close();
    if (Segment.exists(name)) Segment.unlink(name);
  });
  return seg;
}
