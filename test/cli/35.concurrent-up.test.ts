// Two `faasflow up` of one instance at the same moment: one starts it, the other refuses without
// touching it (before the start lock, each one's failure cleanup tore down the other's files).
import t from 'tap';
import { ECHO, configText, portFree, project } from './helpers.js';
import { Segment } from '../../src/shm/index.js';

t.test('concurrent ups: exactly one starts the instance, the other refuses and leaves it alone', async (t) => {
  const p = await project(t, 'race');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]"));
  const [a, b] = await Promise.all([p.cli(['up']), p.cli(['up'])]);
  const codes = [a.code, b.code].sort();
  t.same(codes, [0, 1], `one succeeds, one fails (${a.code}: ${a.stderr.slice(0, 200)} | ${b.code}: ${b.stderr.slice(0, 200)})`);
  const loser = a.code === 0 ? b : a;
  t.match(loser.stderr, /another `faasflow up` of instance "[^"]+" is in progress \(pid \d+\)|is already running/, 'the loser says why');
  t.notMatch(loser.stderr, /ENOENT|already exists/, 'not a symptom of the race');
  const hi = await p.cli(['invoke', '1', '--data', 'still here']);
  t.equal(hi.stdout, 'still here', 'the instance the winner started serves');
  t.equal((await p.cli(['down', '--clean-shm'])).code, 0);
  t.notOk(Segment.exists(p.segment), 'no segment left');
  t.same(p.processes(), [], 'no process left');
  t.ok(await portFree(p.port), 'port free');
});
