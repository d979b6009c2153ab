import t from 'tap';
import { Segment, isExhausted } from '../../src/shm/index.js';
import { tempSegment } from '../helpers/segments.js';

t.test('a created segment lives in /dev/shm with mode 0600 and a checked header', async (t) => {
  const seg = tempSegment(t, { size: 64 << 20 });
  const st = Segment.stat(seg.name);
  t.equal(st.size, 64 << 20);
  t.equal(st.mode, 0o600);
  t.equal(seg.header.creatorPid, process.pid);
  const again = Segment.open(seg.name, false);
  t.teardown(() => again.close());
  t.equal(again.layout.packetCount, seg.layout.packetCount);
});

t.test('alloc, view, free: bytes written through one mapping are read through another', async (t) => {
  const seg = tempSegment(t);
  const d = seg.pool.alloc(1000);
  if (isExhausted(d)) throw new Error('exhausted');
  seg.pool.view(d, 3).set([7, 8, 9]);
  const other = Segment.open(seg.name, false);
  t.teardown(() => other.close());
  t.same([...other.pool.view(d, 3)], [7, 8, 9]);
  seg.pool.free(d);
  t.equal(seg.pool.inUse(), 0);
});
