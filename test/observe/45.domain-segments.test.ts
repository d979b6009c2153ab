// The domain segments of a running instance are memfds, not files in /dev/shm: `shm ls` and `shm
// inspect` still show every one of them (found through the supervisor that holds them), with the
// processes that map each, and after `down` none is left anywhere, in /dev/shm or in a process.
import t from 'tap';
import fs from 'node:fs';
import { execa } from 'execa';
import type { SegmentDetail, SegmentReport } from '../../src/observe/segments.js';
import { memfdMappers } from '../helpers/segments.js';
import { BIN, ECHO, configText, project, psChildren } from '../cli/helpers.js';

/** `faasflow shm ls` (which has no --instance: it lists every segment). */
const shmLs = async (json: boolean) => (await execa(process.execPath, [BIN, 'shm', 'ls', ...(json ? ['--json'] : [])])).stdout;

t.test('shm ls and shm inspect show every domain segment of a running instance; after down none is left', async (t) => {
  const p = await project(t, 'doms');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'one', handler: './echo.ts' }, { id: 2, name: 'two', handler: './echo.ts', replicas: 2 }]"));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  const children = await psChildren(p);
  const sup = p.supervisorPid()!;
  const gateway = children.find((c) => c.role === 'gateway')!.pid;
  const domains = [`${p.segment}@one`, `${p.segment}@two`];

  const ls = (JSON.parse(await shmLs(true)) as SegmentReport[]).filter((s) => s.instance === p.instance);
  t.same(ls.map((s) => [s.name, s.kind, s.memfd]), [[p.segment, 'runtime', false], [domains[0], 'domain', true], [domains[1], 'domain', true]], 'the runtime segment and both domain segments');
  t.same(domains.filter((d) => fs.existsSync(`/dev/shm${d}`)), [], 'the domain segments are not files in /dev/shm');
  for (const s of ls.filter((x) => x.memfd)) {
    t.match(s, { creatorPid: sup, creatorAlive: true, stale: false, error: null }, `${s.name}: made by the supervisor`);
    t.ok(s.size >= 32 << 20, `at least its share of segment.size: ${s.size}`);
    t.match(s.path, new RegExp(`^/proc/${sup}/fd/\\d+$`), 'opened through the supervisor\'s descriptor');
    const mine = children.filter((c) => c.role === 'container' && c.functionId === (s.domain === 'one' ? 1 : 2)).map((c) => c.pid);
    t.same(s.holders.map((h) => h.pid), [sup, gateway, ...mine].sort((a, b) => a - b), `${s.name}: mapped by the supervisor, the gateway and its own containers (${mine.join(', ')}) only`);
  }
  t.match(await shmLs(false), new RegExp(`${domains[1].replace(/[@/]/g, (c) => `\\${c}`)}\\s+[\\d.]+ MiB`), 'the text lists them too');

  const d = JSON.parse((await p.cli(['shm', 'inspect', domains[1]], { json: true })).stdout) as SegmentDetail;
  t.match(d, { name: domains[1], memfd: true, kind: 'domain', domain: 'two' });
  t.equal(d.processes.filter((x) => x.role === 'container').length, 2, 'its two replicas are in its process table view');
  const text = (await p.cli(['shm', 'inspect', `faasflow-${p.instance}@one`])).stdout;
  t.match(text, new RegExp(`${domains[0]} \\(memfd, through /proc/${sup}/fd/\\d+\\)`), 'inspect says what it is and where it was opened');
  t.match(text, /sealed: it can never change/);

  const down = await p.cli(['down'], { json: true });
  t.equal(down.code, 0, down.stderr);
  t.same((JSON.parse(down.stdout) as { segments: string[] }).segments, [p.segment, ...domains], 'down says it removed the runtime segment and both domain segments');
  const after = (JSON.parse(await shmLs(true)) as SegmentReport[]).filter((s) => s.name.startsWith(p.segment));
  t.same(after, [], 'shm ls shows nothing of it');
  t.same(domains.flatMap(memfdMappers), [], 'and no process maps a domain segment of it any more');
});
