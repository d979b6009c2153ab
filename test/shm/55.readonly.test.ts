// A read-only attach (`top`, `shm inspect`) can never crash its process or change the segment:
// every mutating method throws EACCES, and a store straight through a view lands in a private
// copy-on-write page instead of faulting on a PROT_READ mapping (SIGSEGV). Run in a child process,
// so that a crash fails this test instead of killing the test runner.
import t from 'tap';
import fs from 'node:fs';
import { FunctionStats, isExhausted, type Descriptor, type Exhausted } from '../../src/shm/index.js';
import { FN_REQUESTS } from '../../src/shm/constants.js';
import { scanHolders } from '../../src/observe/procfs.js';
import { tempSegment } from '../helpers/segments.js';
import { forkFixture, requireBuiltShm } from './fixtures/helpers.js';

interface Refused {
  type: 'refused';
  writable: boolean;
  storesSafe: boolean;
  results: Record<string, string>;
}
interface Stored {
  type: 'stored';
  seen: { bytes: number[]; owner: number; f64: number };
}

function must(r: Descriptor | Exhausted): Descriptor {
  if (isExhausted(r)) throw new Error(`unexpected ${r.reason}`);
  return r;
}

t.test('a read-only reader: mutators throw EACCES, stores through its views neither crash it nor reach the segment', async (t) => {
  requireBuiltShm();
  const seg = tempSegment(t, { size: 8 << 20, classes: [{ size: 4096, count: 64 }, { size: 65536, count: 8 }] });
  const d = must(seg.pool.alloc(100));
  seg.pool.view(d, 3).set([1, 2, 3]);
  const stats = new FunctionStats(seg);
  stats.set(0, FN_REQUESTS, 7);

  const reader = forkFixture(t, 'ro-reader.mjs', [seg.name, String(d.index), String(d.generation)]);
  const refused = await reader.next<Refused>((m) => m.type === 'refused');
  t.equal(refused.writable, false);
  t.equal(refused.storesSafe, true, 'the read-only mapping is a private copy-on-write one');
  t.equal(Object.keys(refused.results).length, 19);
  for (const [what, result] of Object.entries(refused.results)) t.match(result, /^EACCES: .*is mapped read-only/, `${what} throws EACCES`);
  t.equal(seg.pool.owner(d), process.pid, 'the packet is still ours: free, transfer and reclaim changed nothing');
  t.equal(seg.pool.inUse(), 1, 'alloc took nothing');
  t.equal(stats.get(0, FN_REQUESTS), 7);

  const stored = await reader.next<Stored>((m) => m.type === 'stored');
  t.same(stored.seen, { bytes: [9, 9, 9], owner: process.pid + 1, f64: 12345 }, 'the reader survived its stores and sees them in its own copy');
  t.same([...seg.pool.view(d, 3)], [1, 2, 3], 'the segment still has the packet bytes');
  t.equal(seg.pool.owner(d), process.pid, 'and the owner word (the Atomics.add stayed private)');
  t.equal(stats.get(0, FN_REQUESTS), 7, 'and the stats word');
  // Pages the reader never stored to still show it the live segment.
  const e = must(seg.pool.alloc(5000));
  seg.pool.view(e, 3).set([4, 5, 6]);
  reader.child.send({ type: 'peek', offset: e.offset });
  const peeked = await reader.next<{ type: 'peeked'; bytes: number[] }>((m) => m.type === 'peeked');
  t.same(peeked.bytes, [4, 5, 6], 'a packet written after the reader attached reads live through its mapping');

  // What /proc says about it: a private writable mapping, which must not count as a writer (a
  // segment whose creator died and that only readers map is stale).
  const maps = fs.readFileSync(`/proc/${reader.pid}/maps`, 'utf8').split('\n').filter((l) => l.endsWith(`/dev/shm${seg.name}`));
  t.ok(maps.length > 0 && maps.every((l) => l.split(' ')[1] === 'rw-p'), `the reader maps the segment rw-p (${maps.map((l) => l.split(' ')[1]).join(', ')})`);
  const holders = scanHolders([seg], { fds: true }).get(seg.name) ?? [];
  t.same(holders.find((h) => h.pid === reader.pid), { pid: reader.pid, writes: false }, 'scanHolders: the reader does not write');
  t.same(holders.find((h) => h.pid === process.pid), { pid: process.pid, writes: true }, 'scanHolders: this process (rw-s) does');

  reader.child.send({ type: 'exit' });
  t.equal(await reader.exited, 0, 'the reader exits normally (a SIGSEGV would show here)');
});
