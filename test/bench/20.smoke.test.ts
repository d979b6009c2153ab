// `npm run bench` end to end at tiny scale: real setups, real load, a well-formed result, the
// markdown block written, nothing left running — and the same when interrupted half-way.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { BenchResult } from '../../src/bench/types.js';

const MAIN = path.resolve('dist/bench/main.js');
const SETUPS = ['floor', 'copy', 'faasflow'];
/** Every setup, the cluster floor and the on-request variant included, in the order cells take turns. */
const ALL_SETUPS = ['floor', 'cluster', 'copy', 'faasflow', 'faasflow-nospin'];
const segmentOf = (harnessPid: number | undefined): string => `/dev/shm/faasflow-bench-${harnessPid}`;

/**
 * In the environment of every process a bench() run starts: the test files running beside this
 * one start reference servers and wrk of their own, which are not this file's to count.
 */
const MARK = 'FF_SMOKE_RUN';

/** Pids of this file's harness helper processes (reference servers, wrk, the fixed-rate client) now running. */
function helpers(only = ''): Set<number> {
  const out = new Set<number>();
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const ours = cmd.includes(path.resolve('dist/bench/servers/')) || cmd.startsWith('wrk\0') || cmd.includes('/ffrate\0');
      if (ours && cmd.includes(only) && fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`${MARK}=${process.pid}\0`)) out.add(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

const newHelpers = (before: Set<number>): number[] => [...helpers()].filter((p) => !before.has(p));

function bench(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, ...env, [MARK]: String(process.pid) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-test-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a tiny --quick run measures every cell and writes JSON and the markdown block', async (t) => {
  const dir = tempDir(t);
  const before = helpers();
  const md = path.join(dir, 'BENCHMARKS.md');
  fs.writeFileSync(md, '# Benchmarks\n\n## Shared-memory core\n\nkept\n');
  const run = bench(['--quick', '--sizes', '1k,64k', '--connections', '1,32', '--duration', '1', '--warmup', '0', '--prime', '1', '--setups', ALL_SETUPS.join(','), '--out', 'out', '--markdown', md, '--json'], dir);
  t.teardown(() => run.child.kill('SIGKILL'));
  const { code, stdout, stderr } = await run.done;
  // With --json, oclif prints a failure as JSON on stdout: show both.
  t.equal(code, 0, `${stderr}${stdout}`);
  const printed = JSON.parse(stdout) as BenchResult;
  const files = fs.readdirSync(path.join(dir, 'out'));
  t.equal(files.length, 1);
  t.match(files[0], /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-quick\.json$/);
  const result = JSON.parse(fs.readFileSync(path.join(dir, 'out', files[0]), 'utf8')) as BenchResult;
  t.same(result, printed, 'the file holds what --json printed');
  t.equal(result.cells.length, 2 * 2 * ALL_SETUPS.length);
  for (const c of result.cells) {
    const where = `${c.setup} ${c.size} B × ${c.connections}`;
    t.ok(c.latency.count > 0 && c.rps > 0, `${where}: answered`);
    t.equal(c.errors + c.non2xx, 0, `${where}: no errors`);
    t.ok(c.latency.p50 > 0 && c.latency.p50 <= c.latency.p99 && c.latency.p99 <= c.latency.max, `${where}: ordered percentiles`);
  }
  t.same(
    result.cells.slice(0, ALL_SETUPS.length).map((c) => c.setup),
    ALL_SETUPS,
    'setups take turns within a cell',
  );
  t.equal(result.summary.length, 2 * 2 * ALL_SETUPS.length);
  t.ok(result.machine.cores >= 1 && result.machine.node === process.version);
  t.ok(result.targets.length > 0);
  // The open-loop run at half what faasflow carried: every setup offered the same rate.
  const fixed = result.fixedRate;
  t.ok(fixed && fixed.rate > 0, 'a fixed-rate run followed the wrk cells');
  t.same(fixed?.cells.map((c) => c.setup), ALL_SETUPS, 'of every setup');
  for (const c of fixed?.cells ?? []) t.ok(c.answered > 0 && c.failures === 0 && c.p50 <= c.p99 && c.p99 <= c.max, `${c.setup} at ${fixed?.rate} req/s: answered, ordered percentiles`);
  t.ok(result.cells.some((c) => c.setup === 'faasflow' && c.cpu.byRole && c.cpu.byRole.gateway > 0 && c.cpu.byRole.container > 0), "faasflow's CPU is split into gateway and container time");
  t.ok(result.cells.some((c) => c.setup === 'faasflow' && c.gc && c.gc.count > 0), "the gateway's GC pauses are matched to the cells");
  const text = fs.readFileSync(md, 'utf8');
  t.match(text, /## Shared-memory core\n\nkept\n/);
  // A latency is in µs or, on a loaded machine, ms: the row is there either way.
  t.match(text, /\| 64 KiB \| copy \| [\d.]+ (µs|ms|s) \|/);
  t.same(newHelpers(before), [], 'no server or load generator left running');
  t.notOk(fs.existsSync(segmentOf(run.child.pid)), 'faasflow down --clean-shm removed the segment');
  t.notOk(fs.existsSync(`/dev/shm/faasflow-bench-nospin-${run.child.pid}`), 'and the variant\'s');
  t.match(text, /\| 1 KiB \| faasflow-nospin \| [\d.]+ (µs|ms|s) \|/, 'the variant has its own rows');
});

t.test('SIGINT mid-run stops every setup and exits 130', async (t) => {
  const dir = tempDir(t);
  const before = helpers();
  // Its own temporary directory, to see what the run leaves in it.
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  const run = bench(['--sizes', '1k', '--connections', '1', '--duration', '60', '--warmup', '0', '--setups', SETUPS.join(','), '--out', 'out', '--markdown', 'none'], dir, { TMPDIR: tmp });
  t.teardown(() => run.child.kill('SIGKILL'));
  const early = await new Promise<boolean>((resolve) => {
    void run.done.then(() => {
      clearInterval(poll);
      resolve(true);
    });
    const poll = setInterval(() => {
      // Load on a URL: not the harness's `wrk --version`, which runs before any setup starts.
      if ([...helpers('http://')].some((pid) => !before.has(pid))) {
        clearInterval(poll);
        resolve(false);
      }
    }, 50);
  });
  if (early) {
    const { code, stdout, stderr } = await run.done;
    t.fail(`the run ended (${code}) before its load started: ${stderr}${stdout}`);
    return;
  }
  t.ok(fs.existsSync(segmentOf(run.child.pid)), 'the faasflow instance runs while the cells run');
  run.child.kill('SIGINT');
  const { code, stdout } = await run.done;
  t.equal(code, 130);
  t.match(stdout, /SIGINT: stopping every setup/);
  t.same(newHelpers(before), [], 'no server or load generator left running');
  t.notOk(fs.existsSync(path.join(dir, 'out')), 'no result written for a run that did not finish');
  t.notOk(fs.existsSync(segmentOf(run.child.pid)), 'the faasflow instance was taken down');
  // What stays is the user's directory of instance links (`faasflow-<uid>`), empty.
  const left = fs.readdirSync(tmp).flatMap((f) => (/^faasflow-\d+$/.test(f) ? fs.readdirSync(path.join(tmp, f)).map((l) => `${f}/${l}`) : [f]));
  t.same(left, [], 'every temporary directory and instance link of the run is removed');
});
