// Test segments get unique names and are removed in teardown, whether the test passed or not.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Test } from 'tap';
import { Segment, memfdLabel, type CreateOptions } from '../../src/shm/index.js';

/**
 * `/faasflow-<tag>-<pid>-<random>`, plus `-r<run>` under test/run.js (FAASFLOW_TEST_RUN): the
 * run's leak check uses that to leave alone the segments of another suite running at the same time.
 */
export function uniqueName(tag = 'test'): string {
  const run = process.env.FAASFLOW_TEST_RUN;
  return `/faasflow-${tag}-${process.pid}-${randomBytes(3).toString('hex')}${run && /^\d+$/.test(run) ? `-r${run}` : ''}`;
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

/** The pids that map memfd segment `name` (a domain segment), from every /proc/<pid>/maps. */
export function memfdMappers(name: string): number[] {
  const pids: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes(memfdLabel(name))) pids.push(Number(pid));
    } catch {
      // gone
    }
  }
  return pids;
}
