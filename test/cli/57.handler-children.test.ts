// A process a handler starts goes with its container: on a redeploy's drain, on `down`, and after
// a kill -9 of the supervisor, on the `down --clean-shm` or the recovering `up` that cleans up;
// also one that holds the container's output pipes, and one that made a process group of its own.
import fs from 'node:fs';
import t from 'tap';
import { Segment } from '../../src/shm/index.js';
import { ECHO, alive, configText, project, psChildren, until, type Project } from './helpers.js';

/** Waits for exactly one live `sleep <marker>` and returns it. */
async function oneSleeper(marker: string, what: string): Promise<number[]> {
  await until(() => sleepers(marker).length === 1, 10_000, what);
  return sleepers(marker);
}

function stat(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
}

/** Pids of live `sleep <marker>` processes. */
function sleepers(marker: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd[0].endsWith('sleep') && cmd[1] === marker && stat(Number(p))[0] !== 'Z') out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

// Starts a helper process at load, as a handler wrapping a tool would. It inherits the container's
// stdout and stderr: the container's exit must not wait for it to close them.
const spawner = (marker: string) => `import { spawn } from 'node:child_process';
spawn('sleep', ['${marker}'], { stdio: 'inherit' });
export default async function (input: Uint8Array): Promise<Uint8Array> {
  return input;
}
`;

// Starts a process that leaves the container's group for one of its own (bash job control).
const regrouper = (marker: string) => `import { spawn } from 'node:child_process';
spawn('bash', ['-c', 'set -m; sleep ${marker} & wait'], { stdio: 'ignore' });
export default async function (input: Uint8Array): Promise<Uint8Array> {
  return input;
}
`;

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

const newMarker = () => String(3000 + Math.floor(Math.random() * 60000));

/** kill -9 of the supervisor; waits until the instance's own processes (faasflow's, not what they started) exited. */
async function killSupervisor(p: Project): Promise<void> {
  const procs = p.processes().filter((pid) => cmdline(pid).includes('/runtime/'));
  process.kill(p.supervisorPid()!, 'SIGKILL');
  await until(() => alive(procs).length === 0, 15_000, "the instance's processes to exit after the supervisor died");
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

t.test('processes started by a handler do not outlive its container', async (t) => {
  const marker = newMarker();
  t.teardown(() => killAll(sleepers(marker)));
  const p = await project(t, 'kids');
  p.write('spawner.ts', spawner(marker));
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './spawner.ts' }]"));
  t.equal((await p.cli(['up'])).code, 0);
  const first = await oneSleeper(marker, "the handler's sleep to start");
  t.not(Number(stat(first[0])[2]), p.supervisorPid(), "it is in its container's process group, not the supervisor's");

  const old = (await psChildren(p)).find((c) => c.role === 'container')!;
  // Its container is stopped with SIGTERM and, had the drain waited for the sleep that holds its
  // output pipes (an hour), SIGKILL after the grace: the exit it logs tells which.
  const dep = await p.cli(['deploy', './echo.ts', '--id', '1'], { timeoutMs: 60_000 });
  t.equal(dep.code, 0, dep.stderr);
  const exitLine = (await p.cli(['logs', '--id', '1'])).stdout.split('\n').find((l) => l.includes(`[${old.pid}] `) && / (exited|killed)\b/.test(l));
  t.match(exitLine, /exited with code 0$/, "the drain did not wait for the sleep holding the container's output: the old container exited on SIGTERM, not killed after the grace");
  await until(() => alive(first).length === 0, 10_000, "the old container's sleep to be gone after the redeploy");
  t.pass('redeploy: the drained container took its sleep with it');

  t.equal((await p.cli(['deploy', './spawner.ts', '--id', '1'])).code, 0);
  const second = await oneSleeper(marker, 'a new sleep');
  await killSupervisor(p);
  t.same(alive(second), second, 'the orphaned sleep is still there: nobody has cleaned up yet');
  const down = await p.cli(['down', '--clean-shm'], { json: true });
  t.equal(down.code, 0, down.stderr);
  t.same(alive(second), [], 'down --clean-shm of the stale instance killed it');
  t.ok((JSON.parse(down.stdout) as { stopped: number[] }).stopped.includes(second[0]), 'and reports it');

  t.equal((await p.cli(['up'])).code, 0);
  const third = await oneSleeper(marker, 'the persisted deployment to start its sleep');
  await killSupervisor(p);
  t.same(alive(third), third, 'orphaned again');
  const recover = await p.cli(['up']);
  t.equal(recover.code, 0, recover.stderr);
  t.match(recover.stdout, /Stale instance recovered: supervisor pid \d+ is no longer running; stopped \d+ leftover process/);
  t.same(alive(third), [], 'the recovering up killed it');
  const fourth = await oneSleeper(marker, 'the recovered instance to start its sleep');

  t.equal((await p.cli(['down', '--clean-shm'])).code, 0);
  t.same(alive(fourth), [], 'a normal down took it too');
  t.same(sleepers(marker), [], 'no sleep of this test is left');
  t.same(p.processes(), [], 'no process of the instance is left');
  t.notOk(Segment.exists(p.segment), 'no segment is left');
});

t.test('a process that made its own group is still in the session: down and the stale cleanup kill it', async (t) => {
  const marker = newMarker();
  t.teardown(() => killAll(sleepers(marker)));
  const p = await project(t, 'pgrp');
  p.write('regrouper.ts', regrouper(marker));
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './regrouper.ts' }]"));
  t.equal((await p.cli(['up'])).code, 0);
  const first = await oneSleeper(marker, 'the job-control sleep to start');
  const [pgrp, session] = stat(first[0]).slice(2, 4).map(Number);
  t.equal(pgrp, first[0], 'it leads a process group of its own');
  t.equal(session, p.supervisorPid(), "inside the supervisor's session");
  t.equal((await p.cli(['down'])).code, 0);
  t.same(alive(first), [], "down: the supervisor killed what was left in its session");

  t.equal((await p.cli(['up'])).code, 0);
  const second = await oneSleeper(marker, 'the job-control sleep to start again');
  await killSupervisor(p);
  t.same(alive(second), second, 'orphaned');
  t.equal((await p.cli(['down', '--clean-shm'])).code, 0);
  t.same(alive(second), [], "down --clean-shm of the stale instance killed every member of the dead supervisor's session");
  t.same(p.processes(), [], 'no process of the instance is left');
  t.notOk(Segment.exists(p.segment), 'no segment is left');
});
