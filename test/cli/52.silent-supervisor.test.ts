// A supervisor that lives but does not answer: stopped (SIGSTOP), or serving without its control
// socket (issue 18: an old supervisor removed its successor's socket). `ps` says which, and `down`
// stops it by signals (SIGTERM, SIGKILL after the grace, then the cleanup of a stale instance)
// and leaves nothing. And a supervisor that shuts down removes only files that are its own.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { Segment } from '../../src/shm/index.js';
import { ECHO, alive, configText, portFree, project, until, type Project } from './helpers.js';

const FILES = ['state.json', 'control.sock', 'control.token', 'config.json'];

async function started(t: Test, tag: string): Promise<{ p: Project; procs: number[]; sup: number }> {
  const p = await project(t, tag);
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts', replicas: 2 }]"));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);
  const procs = p.processes();
  t.equal(procs.length, 4, 'supervisor, gateway, two replicas');
  return { p, procs, sup: p.supervisorPid()! };
}

async function nothingLeft(t: Test, p: Project, procs: number[]): Promise<void> {
  await until(() => alive(procs).length === 0, 15_000, 'every process of the instance to exit').catch(() => undefined);
  t.same(alive(procs), [], 'no process of the instance is left');
  t.same(p.processes(), [], 'nor anything else started for it');
  t.same(Segment.ofInstance(p.instance), [], 'no segment is left');
  t.same(FILES.filter((f) => fs.existsSync(path.join(p.runtimeDir, f))), [], 'no state, socket, token or config file is left');
  t.ok(await portFree(p.port), 'the port is free');
  const ps = await p.cli(['ps']);
  t.equal(ps.code, 1, '`ps` after `down` fails');
  t.match(ps.stderr, /is not running/, '`ps` says it is not running');
}

t.test('a stopped supervisor (SIGSTOP): `ps` says so, `down` stops everything and leaves nothing', async (t) => {
  const { p, procs, sup } = await started(t, 'sstop');
  process.kill(sup, 'SIGSTOP');
  // Never continued: `down` must not need it to run (teardown kills whatever is left).
  const ps = await p.cli(['ps']);
  t.equal(ps.code, 1, '`ps` of a stopped supervisor fails');
  t.match(ps.stderr, new RegExp(`supervisor \\(pid ${sup}\\) is stopped \\(SIGSTOP`), `ps says what it is: ${ps.stderr}`);
  t.match(ps.stderr, /faasflow down --instance/, 'and how to stop it');
  const down = await p.cli(['down', '--timeout', '2s'], { json: true });
  t.equal(down.code, 0, `down: ${down.stderr}`);
  const r = JSON.parse(down.stdout) as { was: string; stopped: number[] };
  t.equal(r.was, 'silent', 'down says the supervisor did not answer');
  t.same([...r.stopped].sort(), [...procs].sort(), 'and stopped the processes the state file names');
  await nothingLeft(t, p, procs);
});

t.test('a live supervisor whose control socket is gone: `ps` says so, `down` stops it', async (t) => {
  const { p, procs, sup } = await started(t, 'snosock');
  fs.rmSync(path.join(p.runtimeDir, 'control.sock'));
  const ps = await p.cli(['ps']);
  t.equal(ps.code, 1, '`ps` without a control socket fails');
  t.match(ps.stderr, new RegExp(`supervisor \\(pid ${sup}\\) runs, but its control socket .*control\\.sock is missing`), `ps says what it is: ${ps.stderr}`);
  const down = await p.cli(['down', '--timeout', '5s'], { json: true });
  t.equal(down.code, 0, `down: ${down.stderr}`);
  t.equal((JSON.parse(down.stdout) as { was: string }).was, 'silent', 'down says the supervisor did not answer');
  await nothingLeft(t, p, procs);
  // SIGTERM came first: it shut down by itself, draining as on `down`.
  t.match(fs.readFileSync(path.join(p.runtimeDir, 'logs', 'supervisor.log'), 'utf8'), /shutting down: received SIGTERM/, 'it shut down by itself on SIGTERM');
});

t.test('a supervisor that shuts down removes only its own files, never a successor\'s', async (t) => {
  const { p, procs, sup } = await started(t, 'sown');
  // What a successor started meanwhile would have made: other files under the same names.
  const at = (f: string) => path.join(p.runtimeDir, f);
  const successor = { ...(JSON.parse(fs.readFileSync(at('state.json'), 'utf8')) as object), supervisorPid: 1 };
  const theirs: Record<string, string> = { 'state.json': `${JSON.stringify(successor)}\n`, 'control.token': 'f'.repeat(64), 'config.json': fs.readFileSync(at('config.json'), 'utf8') };
  for (const [f, text] of Object.entries(theirs)) {
    fs.writeFileSync(`${at(f)}.new`, text);
    fs.renameSync(`${at(f)}.new`, at(f));
  }
  fs.renameSync(at('control.sock'), at('old.sock'));
  fs.writeFileSync(at('control.sock'), '');
  process.kill(sup, 'SIGTERM');
  await until(() => alive(procs).length === 0, 30_000, 'every process of the instance to exit');
  t.same(Segment.ofInstance(p.instance), [], 'it removed its own segments');
  for (const [f, text] of Object.entries(theirs)) t.equal(fs.readFileSync(at(f), 'utf8'), text, `${f} of the successor is untouched`);
  t.ok(fs.existsSync(at('control.sock')), "the successor's control.sock is still there");
  t.match(fs.readFileSync(at(path.join('logs', 'supervisor.log')), 'utf8'), /shutting down: received SIGTERM/, 'it shut down as usual');
});
