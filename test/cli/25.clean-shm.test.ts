// What `down --clean-shm` counts as stale: a faasflow segment whose creator is dead and that no
// live process writes to. A segment in use is never removed.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t, { type Test } from 'tap';
import { removeStaleSegments } from '../../src/control/instance.js';
import { Segment } from '../../src/shm/index.js';
import { tempSegment, uniqueName } from '../helpers/segments.js';
import { ROOT } from './helpers.js';

/** A segment made by a process that then exits without unlinking it (what a kill -9 leaves). */
function orphanSegment(t: Test): string {
  const name = uniqueName('orphan');
  const shm = path.join(ROOT, 'dist', 'shm', 'index.js');
  execFileSync(process.execPath, ['--input-type=module', '-e', `const { Segment } = await import(${JSON.stringify(shm)}); Segment.create({ name: ${JSON.stringify(name)}, size: 64 << 20 });`]);
  t.teardown(() => {
    if (Segment.exists(name)) Segment.unlink(name);
  });
  return name;
}

t.test('removes segments whose creator died, keeps live and in-use ones', async (t) => {
  const live = tempSegment(t, { size: 64 << 20 });
  const dead = orphanSegment(t);
  const inUse = orphanSegment(t);
  const writer = Segment.open(inUse, true);
  t.teardown(() => writer.close());
  t.ok(Segment.exists(dead) && Segment.exists(inUse));

  // Limited to this test's segments: a sweep of the whole /dev/shm would race other test files.
  const mine = (name: string) => [live.name, dead, inUse].includes(name);
  const removed = removeStaleSegments(mine);
  t.ok(removed.includes(dead), 'the orphan is removed and reported');
  t.notOk(Segment.exists(dead));
  t.notOk(removed.includes(live.name), 'a segment whose creator runs stays');
  t.ok(Segment.exists(live.name));
  t.notOk(removed.includes(inUse), 'an orphan a live process still writes to stays');
  t.ok(Segment.exists(inUse));

  writer.close();
  t.ok(removeStaleSegments(mine).includes(inUse), 'once nobody writes to it, it goes too');
});

t.test('a domain segment (a memfd) is never stale: it is found only through its live creator', async (t) => {
  const runtime = tempSegment(t, { name: uniqueName('memfd'), kind: 'runtime', procSlots: 8, maxFunctions: 8 });
  const domain = Segment.create({ name: `${runtime.name}@d`, kind: 'domain', size: 8 << 20, classes: [{ size: 4096 }], statsSlots: 4, domain: 'd', domainIndex: 0 });
  t.teardown(() => domain.close());
  const listed = Segment.list().find((e) => e.name === domain.name);
  t.match(listed, { memfd: true }, 'shm ls lists it');
  t.same(removeStaleSegments((n) => n === domain.name || n === runtime.name), [], 'nothing of a live instance is removed');
  t.ok(Segment.exists(domain.name));
});
