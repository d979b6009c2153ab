// The gateway's table of requests in flight agrees with a Map through any run of inserts and
// deletes, wrapped probe runs and growth included.
import t from 'tap';
import { IdTable } from '../../src/runtime/id-table.js';

t.test('agrees with a Map under random inserts, lookups and deletes', async (t) => {
  let seed = 42;
  const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  const table = new IdTable<number>(16);
  const ref = new Map<number, number>();
  let mismatches = 0;
  for (let step = 0; step < 200_000; step++) {
    const op = rand(10);
    // Ids from a small range (collisions, re-inserts) and from the far end (0xfffffffe).
    const id = rand(4) === 0 ? 0xfffffffe - rand(64) : rand(3000);
    if (op < 5) {
      table.set(id, step);
      ref.set(id, step);
    } else if (op < 8) {
      if (table.delete(id) !== ref.delete(id)) mismatches++;
    } else if (table.get(id) !== ref.get(id)) mismatches++;
    if (table.size !== ref.size) mismatches++;
  }
  t.equal(mismatches, 0);
  t.same(table.snapshot().sort((a, b) => a - b), [...ref.values()].sort((a, b) => a - b), 'the same entries at the end');
  for (const id of [...ref.keys()]) table.delete(id);
  t.equal(table.size, 0);
  t.same(table.snapshot(), []);
});
