// The suite's own safety net: fixture workers do not outlive the process that forked them,
// forkFixture's next() gives up as soon as its worker is gone, and test/run.js's leak check finds a
// leftover worker and the segment only that worker maps (and nothing when a test cleans up).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidAlive, Segment } from '../../src/shm/index.js';
import { tempSegment } from '../helpers/segments.js';
import { fixture, forkFixture, requireBuiltShm, root } from './fixtures/helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves true once `pid` is gone (or a zombie), false if it still runs after `ms`. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (!pidAlive(pid)) return true;
  return !pidAlive(pid);
}

/** SIGKILLs `pid` in teardown if it still runs: a failing test must not leave it behind. */
function killLater(t: Test, pid: number): void {
  t.teardown(() => {
    try {
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
}

/** Runs `node <args>` from the repository root; resolves with exit code and output. */
function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.resume();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${stdout}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, pid: child.pid ?? 0 });
    });
  });
}

// A parent that forks one fixture with an IPC channel, reports the worker's pid on stdout once the
// worker sent `ready`, then waits to be killed.
const PARENT = `
const { fork } = require('node:child_process');
const [file, ready, ...args] = process.argv.slice(1);
const w = fork(file, args, { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
w.on('message', (m) => { if (m.type === ready) process.stdout.write(w.pid + '\\n'); });
setInterval(() => {}, 1000);
`;

for (const [file, ready, args] of [
  ['churn-worker.mjs', 'running', (seg: string) => [seg, '12345']],
  ['ring-worker.mjs', 'listening', (seg: string, dir: string) => [seg, '0', '10', dir, '1']],
] as const) {
  t.test(`${file} exits by itself when the process that forked it is SIGKILLed`, async (t) => {
    requireBuiltShm();
    const seg = tempSegment(t, { size: 16 << 20, classes: [{ size: 256, count: 256 }, { size: 4096, count: 256 }, { size: 65536, count: 64 }] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const parent = spawn(process.execPath, ['-e', PARENT, fixture(file), ready, ...args(seg.name, dir)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const parentExited = new Promise((r) => parent.once('exit', r));
    t.teardown(async () => {
      if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
      await parentExited;
    });
    const workerPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      parent.once('exit', () => reject(new Error(`the parent exited before its ${file} was ready`)));
    });
    killLater(t, workerPid);
    t.ok(pidAlive(workerPid), `worker ${workerPid} runs`);
    parent.kill('SIGKILL');
    await parentExited;
    t.ok(await goneWithin(workerPid, 5000), `worker ${workerPid} exited within 5 s of its parent's death`);
  });
}

t.test("next() fails at once when the worker is gone, and leaves no timer running", async (t) => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const w = forkFixture(t, 'exit-now.mjs', []);
  // The exit's own message: the 120 s timeout's would say "sent no matching message within".
  await t.rejects(w.next(() => true, 120_000), { message: /exited \(3\) before sending the expected message/ }, 'rejected for the exit, not after the 120 s timeout');
  t.equal(timers(), before, 'its 120 s timer was cleared (it would hold the test file open)');
  // Asked again after the worker is long gone: the same, not a wait for the timeout.
  await t.rejects(w.next(() => true, 120_000), { message: /exited \(3\) before sending the expected message/ }, 'a next() after the exit does not wait for its timeout either');
  t.equal(timers(), before);
});

t.test('test/run.js reports and removes a leftover worker and the segment only it maps; a clean test reports nothing', async (t) => {
  requireBuiltShm();
  // No -r<run> tag in the name: the inner run must attribute it by who maps it.
  const name = `/faasflow-leak-${process.pid}-${randomBytes(3).toString('hex')}`;
  const holders = () => {
    const out: number[] = [];
    for (const p of fs.readdirSync('/proc').filter((f) => /^\d+$/.test(f))) {
      try {
        if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(name) && pidAlive(Number(p))) out.push(Number(p));
      } catch {
        // gone
      }
    }
    return out;
  };
  t.teardown(() => {
    for (const pid of holders()) process.kill(pid, 'SIGKILL');
    if (Segment.exists(name)) Segment.unlink(name);
  });
  const suite = path.join('test', 'shm', 'fixtures', 'leaky-suite.mjs');
  // The inner runs' own temporary directory: what this run's other test files make meanwhile is
  // not theirs to report.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-leakcheck-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const clean = await run(['test/run.js', suite], { LEAKY_MODE: 'clean', LEAKY_SEGMENT: name, TMPDIR: tmp }, 120_000);
  t.notMatch(clean.stdout, /LEAK/, 'a test that stops its worker and unlinks its segment: no leak reported (nor npx, tap or run.js itself)');
  t.match(clean.stdout, /^1 passed, 0 failed$/m);
  t.equal(clean.code, 0);

  const leaky = await run(['test/run.js', suite], { LEAKY_MODE: 'leak', LEAKY_SEGMENT: name, TMPDIR: tmp }, 120_000);
  const holder = Number(/# holder (\d+)/.exec(leaky.stdout)?.[1]);
  t.ok(holder > 0, `the careless test's worker was pid ${holder}`);
  t.match(leaky.stdout, new RegExp(`# LEAK: processes left running:\\n#   ${holder} \\d+ \\S+node \\S+holder\\.mjs ${name}`), 'the worker is reported, though its command line is no faasflow runtime');
  t.match(leaky.stdout, `# LEAK: segments left in /dev/shm: ${name.slice(1)}`, 'so is the segment that only the leftover worker maps');
  t.notMatch(leaky.stdout, new RegExp(`^#   ${leaky.pid} `, 'm'), 'run.js does not report itself');
  const dir = /# temporary (\S+)/.exec(leaky.stdout)?.[1] ?? '';
  t.ok(dir.startsWith(`${tmp}/ff-leaky-`), `the careless test left ${dir}`);
  t.match(leaky.stdout, `# LEAK: temporary files left: ${dir}`, 'so is the temporary directory it left');
  t.notOk(fs.existsSync(dir), 'which was removed');
  t.match(leaky.stdout, /^1 passed, 3 failed$/m, 'each leak counts as a failure');
  t.equal(leaky.code, 1);
  t.ok(await goneWithin(holder, 5000), 'the worker was killed');
  t.notOk(Segment.exists(name), 'the segment was removed');
});
