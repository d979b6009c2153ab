// The supervisor's periodic sweep for packets of dead owners leaves a dead child's packets to the
// child's exit handler while that exit is still pending (dead, even reaped, with its output pipes
// not yet closed): the exit's one log line is what says how many were reclaimed. Once the exit is
// handled, a packet still owned by that pid (one a container wrote its pid into) is the sweep's.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { pidAlive } from '../../src/shm/index.js';
import { sweepDeadOwners } from '../../src/runtime/supervisor/dead-owners.js';
import { ReclaimReport } from '../../src/runtime/supervisor/reclaim-report.js';
import { tempSegment } from '../helpers/segments.js';

t.test('a child whose exit is pending keeps its packets for its exit line; then the sweep takes them', (t) => {
  const segment = tempSegment(t, { size: 4 << 20, classes: [{ size: 256, count: 16 }] });
  // A process that ran and was reaped: its pid is dead.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  t.notOk(pidAlive(dead), `pid ${dead} is dead`);
  segment.pool.alloc(10, dead);
  segment.pool.alloc(10, dead);
  const domains = [{ name: 'd', segment }];
  const report = new ReclaimReport();

  t.same(sweepDeadOwners(domains, [{ pid: dead, running: true }], report, 0), [], 'nothing said');
  t.equal(segment.pool.inUse(), 2, 'its packets are left to its exit handler');

  t.same(sweepDeadOwners(domains, [{ pid: dead, running: false }], report, 0), [`domain d: reclaimed 2 packet(s) held by 1 dead owner(s) (pid ${dead})`]);
  t.equal(segment.pool.inUse(), 0, 'once its exit was handled, the sweep reclaims what is left');
  t.end();
});
