// A domain's cgroups removed while the instance runs, as a cleanup that takes an empty cgroup for a
// leftover does (a test runner's leak sweep did, between two starts of a replica): the next start
// makes them again with the domain's limits and the replica serves inside them. Before, every
// start failed in the sandbox launcher ("cannot open …/cgroup.procs", exit 126) and the restart
// policy gave the function up as a crash loop though its handler never ran.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { post } from '../helpers/http.js';
import { ECHO, configText, project, psChildren, until } from './helpers.js';

const CG = '/sys/fs/cgroup';
/** The domain's cgroup directories as the supervisor makes them (sys/cgroups.ts): v2, or v1's memory and pids. */
const dirsOf = (instance: string, domain: string) => [path.join(CG, 'faasflow', instance, domain), path.join(CG, 'memory', 'faasflow', instance, domain), path.join(CG, 'pids', 'faasflow', instance, domain)].filter((d) => fs.existsSync(path.join(d, 'cgroup.procs')));
const LIMIT_FILES = ['memory.max', 'memory.limit_in_bytes', 'pids.max'];
/** Each limit file of the directories and its value. */
const limitsOf = (dirs: string[]) => Object.fromEntries(dirs.flatMap((d) => LIMIT_FILES.filter((f) => fs.existsSync(path.join(d, f))).map((f) => [`${d}/${f}`, fs.readFileSync(path.join(d, f), 'utf8').trim()])));
/** The processes in the directories (v1: the same ones in memory and pids). */
const members = (dirs: string[]) => [...new Set(dirs.flatMap((d) => fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)))];

const controllers = (() => {
  try {
    return fs.readFileSync(path.join(CG, 'cgroup.controllers'), 'utf8');
  } catch {
    return '';
  }
})();
const hierarchies = (/\bmemory\b/.test(controllers) && /\bpids\b/.test(controllers)) || ['memory', 'pids'].every((h) => fs.existsSync(path.join(CG, h, 'cgroup.procs')));
const skip = process.getuid?.() !== 0 ? 'cgroups are made as root only' : !hierarchies ? 'no memory and pids cgroup controllers here' : false;

t.test('the cgroups of a domain with no process removed: its replica\'s next start makes them again, no crash loop', { skip }, async (t) => {
  const p = await project(t, 'cgrm');
  p.write('echo.ts', ECHO);
  // Two restarts allowed: without the cgroups made again, the kill's restart and the next two fail, and the function is given up.
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]", "  supervisor: { maxRestarts: 2, backoffMin: '3s' },\n"));
  t.equal((await p.cli(['up'])).code, 0);
  const dirs = dirsOf(p.instance, 'echo');
  t.ok(dirs.length >= 1, `the domain has cgroups: ${dirs.join(', ')}`);
  const limits = limitsOf(dirs);
  t.ok(Object.keys(limits).length >= 1, `the domain's limits: ${JSON.stringify(limits)}`);
  const [replica] = (await psChildren(p)).filter((c) => c.role === 'container');
  t.same(members(dirs), [replica.pid], 'the replica runs in its domain\'s cgroups');

  // Its replica killed, the cgroups are empty until the restart (3 s later): then they are removed.
  process.kill(replica.pid, 'SIGKILL');
  await until(() => members(dirs).length === 0, 10_000, 'the killed replica to leave its cgroups');
  for (const d of dirs) fs.rmdirSync(d);
  t.same(dirsOf(p.instance, 'echo'), [], 'the domain\'s cgroups are gone');

  const back = await until(async () => (await psChildren(p)).find((c) => c.role === 'container' && c.pid !== replica.pid && (c.state === 'ready' || c.state === 'failed')), 60_000, 'the restarted replica to be ready, or given up');
  t.equal(back?.state, 'ready', 'the restarted replica is ready, not given up');
  t.equal(back?.restarts, 1, 'one restart: the kill\'s; nothing was charged to the function for the missing cgroups');
  t.equal((await post(p.port, '/function/1', 'after')).body.toString(), 'after', 'the function serves');
  t.same(limitsOf(dirsOf(p.instance, 'echo')), limits, 'its cgroups are there again, with the same limits');
  t.same(members(dirs), [back?.pid], 'and the replica runs inside them');
  const logs = (await p.cli(['logs', '--id', '1'])).stdout;
  t.match(logs, /the cgroup .* of domain echo was removed while the instance runs: made again with its limits/, 'the function\'s log says what happened');
  t.notMatch(logs, /cannot open .*cgroup\.procs|GIVING UP/, 'no start failed');
  t.equal((await p.cli(['down'])).code, 0);
});
