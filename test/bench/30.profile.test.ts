// --profile: a server process started with the preload writes a CPU profile when it exits, and the
// summary names the process's role and where its time went.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { post } from '../../src/bench/check.js';
import { PROFILE_DIR_ENV } from '../../src/bench/cpu-prof.js';
import { summarizeProfiles } from '../../src/bench/profile.js';

t.test('a profiled hop server writes cpu-<pid>.cpuprofile on SIGTERM, summarised by role and area', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-prof-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const child = fork(path.resolve('dist/bench/servers/hop.js'), ['--listen', 'tcp:0'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: `--import=${path.resolve('dist/bench/cpu-prof.js')}`, [PROFILE_DIR_ENV]: dir },
  });
  t.teardown(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { type: string; port: number }) => (m.type === 'ready' ? resolve(m.port) : reject(new Error(JSON.stringify(m)))));
    child.once('exit', (code) => reject(new Error(`hop exited ${code}`)));
  });
  // Enough requests that the hop's own few microseconds each are sampled too (every 100 µs).
  for (let i = 0; i < 2000; i++) {
    const r = await post(`http://127.0.0.1:${port}/`, Buffer.alloc(4096, 'x'));
    if (r.text !== '4096') t.fail(`reply ${r.status} ${r.text}`);
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  const [p, ...rest] = summarizeProfiles(dir);
  t.equal(rest.length, 0, 'one process, one profile');
  t.equal(p.pid, child.pid);
  t.equal(p.role, 'hop (floor / copy)');
  t.ok(p.busyMs > 0 && p.busyMs <= p.totalMs, `busy ${p.busyMs} ms of ${p.totalMs} ms`);
  const areas = p.areas.map((a) => a.name);
  t.ok(areas.includes('node http') && areas.includes('faasflow bench'), `Node's HTTP code and the hop's own: ${areas.join(', ')}`);
  t.ok(p.self.every((c, i) => i === 0 || c.ms <= p.self[i - 1].ms), 'self time sorted, largest first');
});

t.test('bad flags are refused with the reason and exit code 2, before anything starts', async (t) => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = fork(path.resolve('dist/bench/main.js'), args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      let err = '';
      c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      c.on('exit', (code) => resolve({ code, err }));
    });
  const sizes = await run(['--sizes', '1x']);
  t.equal(sizes.code, 2);
  t.match(sizes.err, /cannot read "1x" as a size/);
  const setups = await run(['--setups', 'nginx']);
  t.equal(setups.code, 2);
  t.match(setups.err, /unknown setup "nginx"/);
});
