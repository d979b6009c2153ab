// The exported ConfigMap is what a pod runs: its files, laid out as the image has them (the
// ConfigMap in <app>/etc, faasflow's node_modules in <app>), start a real faasflow that serves every
// function and the flow; the segments it makes are exactly the bytes the export counts, and what of
// them is in /dev/shm (the runtime segment: the domain segments are memfds) fits the pod's
// /dev/shm; and each process stays within the figure the memory limit counts for it.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { Segment } from '../../src/shm/index.js';
import { holdable } from '../../src/shm/space.js';
import { PROCESS_MEMORY, segmentBytes } from '../../src/export/sizing.js';
import { ROOT, project, type Project } from '../cli/helpers.js';
import { cliPlain, documents, get, writeFixture } from './fixture.js';

function segmentsOf(instance: string): string[] {
  return fs.readdirSync('/dev/shm').filter((f) => f === `faasflow-${instance}` || f.startsWith(`faasflow-${instance}@`));
}

/** Every segment of the instance, the domain segments (memfds) included: its size and what it can hold (page-aligned). */
function allSegmentsOf(instance: string): { name: string; size: number; holds: number; memfd: boolean }[] {
  return Segment.ofInstance(instance).map((e) => {
    const seg = Segment.open(e, false);
    try {
      return { name: e.name, size: Segment.stat(e).size, holds: Math.ceil(holdable(seg.layout) / 4096) * 4096, memfd: e.memfd };
    } finally {
      seg.close();
    }
  });
}

async function post(p: Project, route: string, body: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${p.port}${route}`, { method: 'POST', body });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${route}: ${r.status} ${text}`);
  return text;
}

t.test('faasflow up from the ConfigMap serves what the config describes, in the room the pod gives it', async (t) => {
  const p = await project(t, 'k8sr');
  t.teardown(async () => {
    await p.cli(['down', '--clean-shm']);
    for (const f of segmentsOf(p.instance)) fs.rmSync(path.join('/dev/shm', f), { force: true });
  });
  writeFixture(p);
  const r = await p.cli(['export', 'k8s']);
  t.equal(r.code, 0, r.stderr);
  const [cm, deployment] = documents(r.stdout);
  const etc = path.join(p.dir, 'app', 'etc');
  fs.mkdirSync(etc, { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(p.dir, 'app', 'node_modules'));
  const data = get(cm, 'data') as Record<string, string>;
  for (const [file, text] of Object.entries(data)) fs.writeFileSync(path.join(etc, file), text);
  const files = await p.cli(['export', 'k8s', '--files', 'files']);
  t.equal(files.code, 0, files.stderr);
  t.same(Object.fromEntries(fs.readdirSync(path.join(p.dir, 'files')).map((f) => [f, fs.readFileSync(path.join(p.dir, 'files', f), 'utf8')])), data, '--files writes exactly the ConfigMap');

  // Measured below: started as a pod starts it, without the test runner's hooks.
  const up = await cliPlain(p, ['up', '--config', 'app/etc/faasflow.config.mjs']);
  t.equal(up.code, 0, up.stderr);
  t.equal(await post(p, '/function/1', 'hi'), '[hi]', 'a handler with a bundled local module');
  t.equal(await post(p, '/function/2', 'hi'), 'HI!', "a handler importing faasflow's zod, with its env");
  t.equal(await post(p, '/flow/pipeline', 'hi'), '[HI]!', 'the flow, by the names it was written with');

  const podCfg = await loadConfig({ cwd: p.dir, file: 'app/etc/faasflow.config.mjs', instance: p.instance });
  // What each segment can hold: the runtime segment all of it, a domain segment its tables and its
  // budget (its size classes reserve more, which memory backs only when written).
  const segments = allSegmentsOf(p.instance);
  t.equal(segments.length, 3, 'the runtime segment and one per domain');
  t.equal(segments.reduce((a, s) => a + s.holds, 0), segmentBytes(podCfg).total, 'segmentBytes() is what the supervisor creates');
  const inShm = segments.filter((s) => !s.memfd).reduce((a, s) => a + s.size, 0);
  t.equal(inShm, segmentBytes(podCfg).shm, 'segmentBytes().shm is what the supervisor puts in /dev/shm');
  const shm = get(deployment, 'spec', 'template', 'spec', 'volumes').find((v: { name: string }) => v.name === 'shm');
  t.ok(inShm <= Number(/^(\d+)Mi$/.exec(shm.emptyDir.sizeLimit)?.[1]) * 1024 ** 2, "and what of them is in /dev/shm fits the pod's /dev/shm");

  for (let i = 0; i < 200; i++) await post(p, `/function/${1 + (i % 2)}`, 'x'.repeat(1024));
  const ps = JSON.parse((await p.cli(['ps'], { json: true })).stdout) as { children: { role: keyof typeof PROCESS_MEMORY; pid: number; memory?: { privateBytes: number } }[] };
  t.equal(ps.children.length, 1 + 1 + 3, 'supervisor, one gateway, three containers');
  for (const c of ps.children) {
    t.ok(c.memory, `${c.role} ${c.pid} has a memory sample`);
    t.ok((c.memory?.privateBytes ?? Infinity) < PROCESS_MEMORY[c.role], `${c.role} ${c.pid}: private ${c.memory?.privateBytes} B within the ${PROCESS_MEMORY[c.role]} B the memory limit counts`);
  }
});
