// Two `faasflow up` of one instance at the same moment: one starts it, the other refuses without
// touching it (before the start lock, each one's failure cleanup tore down the other's files).
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { startTime } from '../../src/common/procs.js';
import { Segment } from '../../src/shm/index.js';
import { ECHO, configText, portFree, project, until } from './helpers.js';

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

/** A lock file as `up` writes it: pid and kernel start time. */
function lockText(pid: number): string {
  return `${pid} ${startTime(pid)}\n`;
}

t.test('the start lock: a live holder is respected, a dead or reused one is taken over', async (t) => {
  const p = await project(t, 'lock');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]"));
  fs.mkdirSync(p.runtimeDir, { recursive: true, mode: 0o700 });
  const lock = path.join(p.runtimeDir, 'up.lock');
  // A live process stands in for an `up` in progress.
  const holder = execa('sleep', ['60'], { reject: false });
  t.teardown(() => holder.kill('SIGKILL'));
  await until(() => startTime(holder.pid!) > 0, 5000, 'the stand-in to start');
  const heldSince = startTime(holder.pid!);
  fs.writeFileSync(lock, lockText(holder.pid!));
  const refused = await p.cli(['up']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, new RegExp(`another \`faasflow up\` of instance "${p.instance}" is in progress \\(pid ${holder.pid}\\)`));
  t.notOk(p.supervisorPid(), 'no supervisor was started');
  t.notOk(Segment.exists(p.segment), 'no segment was created');
  t.equal(fs.readFileSync(lock, 'utf8'), lockText(holder.pid!), 'the lock is left to its holder');

  // The same pid with another start time: the pid was reused, its `up` is long gone.
  fs.writeFileSync(lock, `${holder.pid} 1\n`);
  const reused = await p.cli(['up']);
  t.equal(reused.code, 0, reused.stderr);
  t.notOk(fs.existsSync(lock), 'the lock is released once up is done');
  t.equal((await p.cli(['down'])).code, 0);

  // A holder that died (up killed with kill -9 half-way).
  holder.kill('SIGKILL');
  await holder;
  fs.writeFileSync(lock, `${holder.pid} ${heldSince}\n`);
  const dead = await p.cli(['up']);
  t.equal(dead.code, 0, dead.stderr);
  t.notOk(fs.existsSync(lock));
  t.equal((await p.cli(['down', '--clean-shm'])).code, 0);
  t.same(p.processes(), [], 'no process left');
  t.notOk(Segment.exists(p.segment), 'no segment left');
});
