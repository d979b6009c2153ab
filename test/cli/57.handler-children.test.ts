// A process a handler starts goes with its container: on a redeploy's drain, on `down`, and after
// a kill -9 of the supervisor, on the `down --clean-shm` that cleans up.
import fs from 'node:fs';
import t from 'tap';
import { ECHO, alive, configText, project, until } from './helpers.js';

/** Waits for exactly one live `sleep <marker>` and returns it. */
async function oneSleeper(marker: string, what: string): Promise<number[]> {
  await until(() => sleepers(marker).length === 1, 10_000, what);
  return sleepers(marker);
}

/** Pids of live `sleep <marker>` processes. */
function sleepers(marker: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const state = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmd[0].endsWith('sleep') && cmd[1] === marker && state !== 'Z') out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

const spawner = (marker: string) => `import { spawn } from 'node:child_process';
// Starts a helper process at load, as a handler wrapping a tool would.
spawn('sleep', ['${marker}'], { stdio: 'ignore' });
export default async function (input: Uint8Array): Promise<Uint8Array> {
  return input;
}
`;

t.test('processes started by a handler do not outlive its container', async (t) => {
  const marker = String(3000 + Math.floor(Math.random() * 60000));
  t.teardown(() => {
    for (const pid of sleepers(marker)) process.kill(pid, 'SIGKILL');
  });
  const p = await project(t, 'kids');
  p.write('spawner.ts', spawner(marker));
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './spawner.ts' }]"));
  t.equal((await p.cli(['up'])).code, 0);
  const first = await oneSleeper(marker, 'the handler\'s sleep to start');
  const pgid = Number(fs.readFileSync(`/proc/${first[0]}/stat`, 'utf8').split(') ')[1].split(' ')[2]);
  t.not(pgid, p.supervisorPid(), 'it is in its container\'s process group, not the supervisor\'s');

  const dep = await p.cli(['deploy', './echo.ts', '--id', '1']);
  t.equal(dep.code, 0, dep.stderr);
  await until(() => alive(first).length === 0, 10_000, 'the old container\'s sleep to be gone after the redeploy');
  t.pass('redeploy: the drained container took its sleep with it');

  t.equal((await p.cli(['deploy', './spawner.ts', '--id', '1'])).code, 0);
  const second = await oneSleeper(marker, 'a new sleep');
  const procs = p.processes().filter((pid) => !second.includes(pid));
  process.kill(p.supervisorPid()!, 'SIGKILL');
  await until(() => alive(procs).length === 0, 15_000, 'the instance\'s processes to exit after the supervisor died');
  t.same(alive(second), second, 'the orphaned sleep is still there: nobody has cleaned up yet');
  const down = await p.cli(['down', '--clean-shm'], { json: true });
  t.equal(down.code, 0, down.stderr);
  t.same(alive(second), [], 'down --clean-shm of the stale instance killed it');

  t.equal((await p.cli(['up'])).code, 0);
  const third = await oneSleeper(marker, 'the persisted deployment to start its sleep');
  t.equal((await p.cli(['down', '--clean-shm'])).code, 0);
  t.same(alive(third), [], 'a normal down took it too');
  t.same(sleepers(marker), [], 'no sleep of this test is left');
});
