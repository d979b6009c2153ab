import t, { type Test } from 'tap';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { inspectSegment, listSegments, type SegmentDetail, type SegmentReport } from '../../src/observe/segments.js';
import { LAYOUT_VERSION, Segment, memfdLabel } from '../../src/shm/index.js';
import { ROOT } from '../helpers/runtime.js';
import { uniqueName } from '../helpers/segments.js';

const run = promisify(execFile);
const FIXTURE = path.join(ROOT, 'test', 'observe', 'fixtures', 'fake-instance.mjs');

/** The fake instance: a segment, itself and two children mapping it. Stopped and removed at the end. */
async function fakeInstance(t: Test): Promise<{ name: string; pids: number[]; proc: ChildProcess }> {
  const name = uniqueName('obs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-obs-'));
  const proc = spawn(process.execPath, [FIXTURE, 'parent', name, dir], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  t.teardown(async () => {
    if (proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
    if (Segment.exists(name)) Segment.unlink(name);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const line = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
  });
  const pids = line.split(' ').slice(1).map(Number);
  return { name, pids, proc };
}

const cli = async (...args: string[]) => (await run(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args], { cwd: ROOT })).stdout;

async function lsofPids(file: string): Promise<number[]> {
  // lsof exits 1 when it finds nothing or cannot stat some other mount; its -t output is what counts.
  const r = await run('lsof', ['-t', file]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return [...new Set(r.stdout.split('\n').filter(Boolean).map(Number))].sort((a, b) => a - b);
}

/**
 * The pids lsof shows holding memfd segment `name` with inode `ino`: its memory mappings (listed
 * as "DEL", named /memfd:<name>) and its descriptors (named /memfd:<name> (deleted)).
 */
async function lsofMemfdPids(name: string, ino: number): Promise<number[]> {
  const r = await run('lsof', ['-w', '-nP', '-F', 'pin'], { maxBuffer: 512 << 20 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  const pids = new Set<number>();
  let pid = 0;
  let inode = -1;
  for (const line of r.stdout.split('\n')) {
    const value = line.slice(1);
    if (line[0] === 'p') pid = Number(value);
    else if (line[0] === 'f') inode = -1;
    else if (line[0] === 'i') inode = Number(value);
    else if (line[0] === 'n' && value.replace(/ \(deleted\)$/, '') === memfdLabel(name) && inode === ino) pids.add(pid);
  }
  return [...pids].sort((a, b) => a - b);
}

t.test('a domain segment, a memfd: shm inspect lists the same pids as lsof, readers included, and shm ls shows it', async (t) => {
  const { name, pids } = await fakeInstance(t);
  const domain = `${name}@d`;
  const d = JSON.parse(await cli('shm', 'inspect', domain, '--json')) as SegmentDetail;
  t.match(d, { name: domain, memfd: true, kind: 'domain', domain: 'd', creatorPid: pids[0], creatorAlive: true, stale: false, size: 16 << 20, packetsInUse: 2 });
  t.match(d.path, new RegExp(`^/proc/${pids[0]}/fd/\\d+$`), 'opened through its creator\'s descriptor');
  const ino = fs.statSync(d.path).ino;
  const lsof = await lsofMemfdPids(domain, ino);
  t.same(d.holders.map((h) => h.pid), lsof, `inspect and lsof agree: ${lsof.join(', ')}`);
  t.same(lsof, [...pids].sort((a, b) => a - b), 'the fixture and its two children');
  t.ok(d.holders.every((h) => h.writes), 'each maps it writable');

  const reader = await mapper(t, domain, false);
  const again = JSON.parse(await cli('shm', 'inspect', domain, '--json')) as SegmentDetail;
  const withReader = await lsofMemfdPids(domain, ino);
  t.same(again.holders.map((h) => h.pid), withReader, 'with a read-only reader too, inspect and lsof agree');
  t.same(again.holders.find((h) => h.pid === reader.pid), { pid: reader.pid, command: again.holders.find((h) => h.pid === reader.pid)?.command, registered: false, writes: false }, 'and the reader is a reader');

  const ls = JSON.parse(await cli('shm', 'ls', '--json')) as SegmentReport[];
  t.match(ls.find((s) => s.name === domain), { memfd: true, kind: 'domain', domain: 'd', creatorAlive: true, stale: false, size: 16 << 20 }, 'shm ls lists it');
  t.match(await cli('shm', 'ls'), new RegExp(`${domain.replace(/[@/]/g, (c) => `\\${c}`)}\\s+16\\.0 MiB`), 'in its text output too');
});

t.test('shm inspect lists the same pids as lsof, with packets per class and owners', async (t) => {
  const { name, pids } = await fakeInstance(t);
  const d = JSON.parse(await cli('shm', 'inspect', name, '--json')) as SegmentDetail;
  const lsof = await lsofPids(`/dev/shm${name}`);
  t.same(d.holders.map((h) => h.pid), lsof, `inspect and lsof agree: ${lsof.join(', ')}`);
  t.same(lsof, [...pids].sort((a, b) => a - b), 'the fixture and its two children');
  t.ok(d.holders.every((h) => h.registered), 'every holder is in the process table');
  t.equal(d.creatorPid, pids[0]);
  t.equal(d.creatorAlive, true);
  t.equal(d.stale, false);
  t.equal(d.layoutVersion, LAYOUT_VERSION);
  t.equal(d.size, 64 << 20);
  // The fixture holds 20 × 1000 B and 20 × 20000 B; each child one 3000 B packet.
  t.same(d.pool?.filter((c) => c.inUse).map((c) => [c.size, c.inUse]), [[4096, 22], [32768, 20]], 'by class: 1000 B and 3000 B in 4 KiB packets, 20000 B in 32 KiB ones');
  t.equal(d.packetsInUse, 42);
  const held = 22 * 4096 + 20 * 32768;
  t.match(d.memory, { held, free: d.memory!.budget - held, waits: 0, refusals: 0 }, 'the domain memory: what is held of the budget');
  t.same(
    d.owners.map((o) => [o.pid, o.packets]).sort((a, b) => a[0] - b[0]),
    [[pids[0], 40], [pids[1], 1], [pids[2], 1]].sort((a, b) => a[0] - b[0]),
  );
  t.same(d.processes.map((p) => p.role).sort(), ['container', 'container', 'gateway']);

  const text = await cli('shm', 'inspect', name);
  for (const pid of pids) t.match(text, new RegExp(`\\b${pid}\\b`), `text output names pid ${pid}`);
  t.match(text, /in use/);
  t.match(text, new RegExp(`Packet memory: 728\\.0 KiB held of a [\\d.]+ MiB budget \\([\\d.]+ MiB free\\); 0 allocation\\(s\\) waited for memory, 0 refused`));
});

t.test('shm inspect text marks each holder as writer or read-only reader', async (t) => {
  const { name, pids } = await fakeInstance(t);
  const reader = await mapper(t, name, false);
  const text = await cli('shm', 'inspect', name);
  t.match(text, /PID\s+ACCESS\s+REGISTERED\s+COMMAND/, 'the holder table has an access column');
  for (const pid of pids) t.match(text, new RegExp(`^\\s+${pid}\\s+writer\\s+yes\\s`, 'm'), `runtime process ${pid}: writer, registered`);
  t.match(text, new RegExp(`^\\s+${reader.pid}\\s+read-only\\s+no \\(reader\\)\\s`, 'm'), `the read-only mapper ${reader.pid}: a reader, not an unregistered stranger`);
  t.notMatch(text, new RegExp(`^\\s+${reader.pid}\\s.*\\bNO\\b`, 'm'), 'not flagged as an unregistered process');
  t.match(text, /read-only: a reader such as `faasflow top`/, 'and says what read-only means');
  const d = JSON.parse(await cli('shm', 'inspect', name, '--json')) as SegmentDetail;
  t.same(d.holders.map((h) => [h.pid, h.writes]), [...pids.map((p) => [p, true] as const), [reader.pid!, false] as const].sort((a, b) => Number(a[0]) - Number(b[0])), 'the JSON agrees');
});

/** A segment whose creator was killed with SIGKILL: it left the segment behind. */
async function orphan(name: string): Promise<number> {
  const shm = JSON.stringify(new URL('../../dist/shm/index.js', import.meta.url).href);
  const script = `import(${shm}).then(({ Segment }) => { Segment.create({ name: ${JSON.stringify(name)}, size: 64 << 20 }); process.send('made'); setInterval(() => {}, 1000); }, (e) => { console.error(e); process.exit(1); })`;
  const creator = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise((resolve, reject) => {
    creator.once('message', resolve);
    creator.once('exit', (code) => reject(new Error(`segment creator exited with ${code}`)));
  });
  const gone = new Promise((r) => creator.once('exit', r));
  creator.kill('SIGKILL');
  await gone;
  return creator.pid!;
}

t.test('shm ls reports a segment whose creator was killed with SIGKILL as stale', async (t) => {
  const live = await fakeInstance(t);
  const name = uniqueName('stale');
  t.teardown(() => {
    if (Segment.exists(name)) Segment.unlink(name);
  });
  // `faasflow down --clean-shm` (run by other tests on this machine) removes stale segments, as
  // it should: an observation only counts when the segment outlived it, so retry if it did not.
  for (let attempt = 1; ; attempt++) {
    const pid = await orphan(name);
    const [all, onlyStale, text] = await Promise.all([cli('shm', 'ls', '--json'), cli('shm', 'ls', '--stale', '--json'), cli('shm', 'ls')]);
    if (!Segment.exists(name) && attempt < 4) {
      t.comment(`attempt ${attempt}: the stale segment was cleaned up by someone else meanwhile; again`);
      continue;
    }
    const reports = JSON.parse(all) as SegmentReport[];
    const stale = reports.find((s) => s.name === name);
    const running = reports.find((s) => s.name === live.name);
    t.match(stale, { creatorPid: pid, creatorAlive: false, stale: true, packetsInUse: 0 });
    // The other two `shm ls` running alongside may be mapping it read-only at this moment.
    t.ok(stale?.holders.every((h) => !h.writes), 'nothing maps it writable');
    t.match(running, { creatorAlive: true, stale: false });
    // The fixture and its two children map it writable; the `shm ls` beside this one may be
    // reading it at the moment (read-only), as above.
    t.equal(running?.holders.filter((h) => h.writes).length, 3);
    const filtered = JSON.parse(onlyStale) as SegmentReport[];
    t.ok(filtered.some((s) => s.name === name) && !filtered.some((s) => s.name === live.name), '--stale lists only stale segments');
    t.match(text, new RegExp(`${name}.*STALE`));
    break;
  }
});

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((res) => child.once('exit', res));
  child.kill('SIGKILL');
  await gone;
}

/** A process that maps `name` (writable or read-only) and stays until killed. */
async function mapper(t: Test, name: string, writable: boolean): Promise<ChildProcess> {
  const shm = JSON.stringify(new URL('../../dist/shm/index.js', import.meta.url).href);
  const script = `import(${shm}).then(({ Segment }) => { Segment.open(${JSON.stringify(name)}, ${writable}); process.send('mapped'); setInterval(() => {}, 1000); }, (e) => { console.error(e); process.exit(1); })`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  t.teardown(() => stop(child));
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`mapper exited with ${code}`)));
  });
  return child;
}

t.test('a reader mapping a dead creator\'s segment read-only leaves it stale; a writer keeps it in use', async (t) => {
  const name = uniqueName('readers');
  t.teardown(() => {
    if (Segment.exists(name)) Segment.unlink(name);
  });
  const pairs = (r: SegmentReport) => r.holders.map((h) => [h.pid, h.writes] as const).sort((a, b) => a[0] - b[0]);
  // As above: a concurrent `down --clean-shm` elsewhere may remove the stale segment under us, so
  // a stale observation only counts when the segment is still there after it.
  const stillThere = (what: string, attempt: number) => {
    if (Segment.exists(name) || attempt >= 4) return true;
    t.comment(`attempt ${attempt}: the segment was cleaned up by someone else ${what}; again`);
    return false;
  };
  for (let attempt = 1; ; attempt++) {
    const creator = await orphan(name);
    const reader = await mapper(t, name, false);
    const first = listSegments([name])[0]!;
    if (!stillThere('while only a reader mapped it', attempt)) {
      await stop(reader); // it still maps the deleted one, which would count as the next one's holder
      continue;
    }
    t.match(first, { creatorPid: creator, creatorAlive: false, stale: true });
    t.same(pairs(first), [[reader.pid, false]], 'the reader is listed, as lsof would, and marked read-only');

    const writer = await mapper(t, name, true);
    const second = listSegments([name])[0]!;
    t.equal(second.stale, false, 'a live process mapping it writable keeps it in use');
    t.same(pairs(second), [[reader.pid, false], [writer.pid, true]].sort((a, b) => Number(a[0]) - Number(b[0])));

    await stop(writer);
    const third = listSegments([name])[0]!;
    if (!stillThere('after the writer exited', attempt)) {
      await stop(reader);
      continue;
    }
    t.equal(third.stale, true, 'stale again once the writer is gone');
    break;
  }
});

t.test('shm inspect of a missing segment fails with a clear message', async (t) => {
  const err = await cli('shm', 'inspect', 'no-such-instance-here').then(
    () => null,
    (e: { stderr: string; code: number }) => e,
  );
  t.ok(err, 'non-zero exit');
  t.match(err?.stderr, /no segment \/dev\/shm\/faasflow-no-such-instance-here/);
});

t.test('a file in /dev/shm that is not a readable segment is reported, not fatal', async (t) => {
  const name = uniqueName('junk');
  const file = `/dev/shm${name}`;
  fs.writeFileSync(file, Buffer.alloc(8192, 0x41), { mode: 0o600 });
  t.teardown(() => fs.rmSync(file, { force: true }));
  const [r] = listSegments([name]);
  t.match(r, { name, size: 8192, layoutVersion: null, creatorPid: null, creatorAlive: false, pool: null, holders: [], stale: true });
  t.match(r.error, /not a faasflow segment/);
  const d = inspectSegment(name);
  t.match(d.error, /not a faasflow segment/);
  t.same(d.processes, []);
});
