import t from 'tap';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Segment } from '../../src/shm/index.js';
import { requireBuiltShm, root } from './fixtures/helpers.js';

// Not a timing test (numbers belong in BENCHMARKS.md): it proves `npm run bench:shm` still runs,
// measures every row, and removes its segment and its contending process.
t.test('bench:shm runs end to end and leaves nothing behind', async (t) => {
  requireBuiltShm();
  const before = Segment.list().map((e) => e.name);
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'dist', 'bench', 'shm.js'), '--quick', '--no-write'], { timeout: 120_000 });
  for (const row of ['alloc+free pair, one process', 'two processes contending (this one)', 'copy 1 MiB heap → heap', 'copy 1 MiB heap → packet', 'packet ÷ heap copy speed']) {
    t.match(stdout, row);
  }
  t.match(stdout, /\| alloc\+free pair, one process \| \d+ ns \| \d+ ns \|/, 'the pair is measured in wall and CPU time');
  t.notMatch(stdout, /NaN|Infinity/);
  t.notMatch(stdout, /wrote the/, '--no-write leaves BENCHMARKS.md alone');
  t.same(Segment.list().map((e) => e.name).filter((s) => s.startsWith('/faasflow-bench-shm-')), before.filter((s) => s.startsWith('/faasflow-bench-shm-')), 'its segment is gone');
});
