// Each size class reserves packets for the whole budget and tmpfs keeps every page once written,
// so a domain whose bodies change size comes to hold more than its budget in RAM. trimPackets
// gives the pages of free packets back (largest first), never those of a packet in use, and the
// packets it trimmed serve the next allocation as before (zero-filled). A domain segment is a
// sealed memfd: the hole is punched there too, its size and seals unchanged.
import t from 'tap';
import { Segment, isExhausted, type Descriptor } from '../../src/shm/index.js';
import { holdable } from '../../src/shm/space.js';
import { trimPackets } from '../../src/shm/pool-trim.js';
import { native } from '../../src/shm/binding.js';
import { sys } from '../../src/sys/binding.js';
import { tempSegment } from '../helpers/segments.js';

const MiB = 1 << 20;
const release = (v: ArrayBuffer, o: number, n: number) => sys.releasePages(v, o, n);

/** Allocates `n` packets of `size`, writes every byte, frees them: their pages stay resident. */
function touch(seg: Segment, size: number, n: number): void {
  const got: Descriptor[] = [];
  for (let i = 0; i < n; i++) {
    const d = seg.pool.alloc(size);
    if (isExhausted(d)) throw new Error(`${d.reason} at packet ${i} of ${size} B`);
    seg.pool.view(d).fill(0xab);
    got.push(d);
  }
  for (const d of got) seg.pool.free(d);
}

t.test('a domain that held 1 MiB then 2 MiB then 512 KiB packets gives the free pages back, keeping what is in use', async (t) => {
  const seg = tempSegment(t, { size: undefined, budget: 64 * MiB });
  const may = holdable(seg.layout);
  touch(seg, MiB, 48);
  touch(seg, 2 * MiB, 24);
  touch(seg, 512 << 10, 96);
  const kept = seg.pool.alloc(2 * MiB);
  if (isExhausted(kept)) throw new Error('exhausted');
  seg.pool.view(kept).fill(0x5c);
  const before = Segment.stat(seg.name).touched;
  t.ok(before > may + 64 * MiB, `${(before / MiB).toFixed(0)} MiB resident, more than the ${(may / MiB).toFixed(0)} MiB its budget and tables may hold`);

  const goal = before - (may - 8 * MiB);
  const released = trimPackets(seg, process.pid, goal, release);
  const after = Segment.stat(seg.name).touched;
  t.ok(released >= goal, `${(released / MiB).toFixed(0)} MiB released (goal ${(goal / MiB).toFixed(0)} MiB)`);
  t.ok(after <= may - 8 * MiB, `${(after / MiB).toFixed(0)} MiB resident after, below what it may hold`);
  t.equal(after, before - released, 'exactly what was released left tmpfs');
  const reader = Segment.open(seg.name, false);
  t.teardown(() => reader.close());
  t.ok(reader.pool.view(kept).every((b) => b === 0x5c), 'the packet in use kept every byte, seen through another mapping');
  t.equal(seg.pool.inUse(), 1, 'no packet left claimed by the trim');
  t.equal(seg.pool.charged(), 2 * MiB, 'and nothing charged for it');

  // Every packet serves again; a trimmed one reads as zeros until written.
  const again: Descriptor[] = [];
  for (let i = 0; i < 32; i++) {
    const d = seg.pool.alloc(2 * MiB);
    if (isExhausted(d)) break;
    again.push(d);
  }
  t.equal(again.length, 31, 'the 2 MiB class allocates up to the budget again (one of its 32 packets is in use)');
  t.ok(again.some((d) => seg.pool.view(d).every((b) => b === 0)), 'trimmed packets come back zero-filled');
  for (const d of [...again, kept]) seg.pool.free(d);
  t.equal(trimPackets(seg, process.pid, 0, release), 0, 'a goal of 0 releases nothing');
});

t.test('packets smaller than a page are never trimmed; nothing to give back releases nothing', async (t) => {
  const seg = tempSegment(t, { size: 4 * MiB, classes: [{ size: 256, count: 64 }, { size: 4096, count: 16 }] });
  touch(seg, 256, 64);
  touch(seg, 4096, 16);
  const released = trimPackets(seg, process.pid, Infinity, release);
  t.equal(released, 16 * 4096, 'the 4 KiB packets, not the 256 B ones (which share pages)');
  t.equal(trimPackets(seg, process.pid, Infinity, release), 0, 'a second trim finds nothing resident');
});

t.test('a domain segment, a sealed memfd, gives its pages back the same way: its size and seals stay', async (t) => {
  const seg = tempSegment(t, { kind: 'domain', size: undefined, budget: 64 * MiB });
  t.ok(seg.memfd && seg.fd >= 0, 'a memfd this process holds');
  const seals = native.seals(seg.fd);
  touch(seg, MiB, 48);
  touch(seg, 2 * MiB, 24);
  const kept = seg.pool.alloc(MiB);
  if (isExhausted(kept)) throw new Error('exhausted');
  seg.pool.view(kept).fill(0x5c);
  const before = Segment.stat(seg).touched;
  t.ok(before > 96 * MiB, `${(before / MiB).toFixed(0)} MiB resident`);
  const released = trimPackets(seg, process.pid, Infinity, release);
  const after = Segment.stat(seg);
  t.ok(released >= 95 * MiB, `${(released / MiB).toFixed(0)} MiB released: every free packet's pages`);
  t.equal(after.touched, before - released, 'exactly what was released left memory');
  t.equal(after.size, seg.header.size, 'its size is what it was created with');
  t.equal(native.seals(seg.fd), seals, 'and its seals are unchanged');
  const reader = Segment.open({ name: seg.name, path: seg.path, memfd: true }, false);
  t.teardown(() => reader.close());
  t.ok(reader.pool.view(kept).every((b) => b === 0x5c), 'the packet in use kept every byte, seen through another mapping of the memfd');
  seg.pool.free(kept);
});
