// Large bodies at full concurrency on real instances started with `faasflow up`: the default
// segment settings (one domain, a 1 GiB budget) and the repository's example config (seven domains,
// 146 MiB each). 32 concurrent 1 MiB and 8 concurrent 5 MB requests to a handler that answers with
// its input (echo) and one that writes a reply of the same size into ctx.output (uppercase), all
// 200 and byte-exact; 8 concurrent 5 MB JPEGs to resize in the example's images domain; and every
// packet back in its pool afterwards. And a domain whose bodies change size gives pages back.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import sharp from 'sharp';
import { Segment } from '../../src/shm/index.js';
import { holdable } from '../../src/shm/space.js';
import { execa } from 'execa';
import { BIN, ROOT, project, until, type Project } from './helpers.js';

const MiB = 1 << 20;

function upper(b: Buffer): Buffer {
  return Buffer.from(b.map((c) => (c >= 97 && c <= 122 ? c - 32 : c)));
}

async function post(p: Project, route: string, body: Buffer): Promise<{ status: number; body: Buffer }> {
  const r = await fetch(`http://127.0.0.1:${p.port}${route}`, { method: 'POST', body });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

/** `n` concurrent bodies of `size` bytes to echo (function 1) and uppercase (function 2): all 200, byte-exact. */
async function burst(t: Test, p: Project, n: number, size: number): Promise<void> {
  const bodies = Array.from({ length: n }, () => randomBytes(size));
  for (const [fn, expect] of [[1, (b: Buffer) => b], [2, upper]] as const) {
    const rs = await Promise.all(bodies.map((b) => post(p, `/function/${fn}`, b)));
    const statuses = rs.reduce<Record<number, number>>((a, r) => ({ ...a, [r.status]: (a[r.status] ?? 0) + 1 }), {});
    t.same(statuses, { 200: n }, `${n} × ${size} B to function ${fn}: all 200`);
    t.ok(rs.every((r, i) => r.body.equals(expect(bodies[i]))), `${n} × ${size} B to function ${fn}: every answer byte-exact`);
  }
}

/** `top --once --json` of the instance. */
async function topOnce<T>(p: Project): Promise<T> {
  const r = await execa(process.execPath, [BIN, 'top', '--once', '--interval', '200', '--json', '--instance', p.instance], { cwd: p.dir, env: { FAASFLOW_RUNTIME_DIR: p.runtimeDir }, reject: false, timeout: 120_000 });
  if (!String(r.stdout).trim()) throw new Error(`top --once --json printed nothing (exit ${r.exitCode}, signal ${r.signal}, ${r.failed ? r.message : ''}): ${String(r.stderr)}`);
  return JSON.parse(String(r.stdout)) as T;
}

/** Every domain of the instance holds no packet (read-only, as `top` reads them). */
async function allBack(t: Test, p: Project): Promise<void> {
  const held = () => Segment.ofInstance(p.instance).filter((e) => e.memfd).map((e) => {
    const seg = Segment.open(e, false);
    try {
      return seg.pool.memory().held;
    } finally {
      seg.close();
    }
  });
  await until(() => held().every((h) => h === 0), 15_000, 'every packet back in its pool');
  t.pass(`every packet of ${held().length} domain(s) is back in its pool`);
}

t.test('default segment settings: one domain with a 1 GiB budget', async (t) => {
  const p = await project(t, 'capdef');
  const fn = (id: number, name: string) => `{ id: ${id}, name: '${name}', handler: ${JSON.stringify(path.join(ROOT, 'functions', `${name}.ts`))}, domain: 'app' }`;
  p.write('faasflow.config.mjs', `export default { gateway: { port: ${p.port} }, functions: [${fn(1, 'echo')}, ${fn(2, 'uppercase')}] };\n`);
  const up = await p.cli(['up', '--config', 'faasflow.config.mjs'], { timeoutMs: 180_000 });
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down']).then(() => undefined));
  await burst(t, p, 32, MiB);
  await burst(t, p, 8, 5_000_000);
  const top = await topOnce<{ domains: { name: string; memory: { budget: number } }[] }>(p);
  t.same(top.domains.map((d) => [d.name, d.memory.budget]), [['app', 1 << 30]], 'top shows the domain and its 1 GiB budget');
  await allBack(t, p);
});

t.test("the repository's example config: seven domains of 146 MiB each", async (t) => {
  const p = await project(t, 'capex');
  // The example as it is, but on this test's port and with its handlers where they are.
  const example = fs.readFileSync(path.join(ROOT, 'faasflow.config.ts'), 'utf8')
    .replace('port: 8080', `port: ${p.port}`)
    .replaceAll("'./functions/", `'${ROOT}/functions/`);
  t.not(example.indexOf(`port: ${p.port}`), -1, 'the port was replaced');
  p.write('faasflow.config.ts', example);
  const up = await p.cli(['up'], { timeoutMs: 240_000 });
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down']).then(() => undefined));
  await burst(t, p, 32, MiB);
  await burst(t, p, 8, 5_000_000);

  // The issue's own case: 8 concurrent 5 MB JPEGs to resize (domain images).
  const jpeg = await sharp(randomBytes(2400 * 1800 * 3), { raw: { width: 2400, height: 1800, channels: 3 } }).jpeg({ quality: 100 }).toBuffer();
  t.ok(jpeg.length > 4 * MiB, `a ${(jpeg.length / MiB).toFixed(1)} MiB JPEG`);
  const rs = await Promise.all(Array.from({ length: 8 }, () => post(p, '/function/5?w=200', jpeg)));
  t.same(rs.map((r) => r.status), Array(8).fill(200), '8 concurrent resizes: all 200');
  const meta = await sharp(rs[0].body).metadata();
  t.match(meta, { format: 'jpeg', width: 200 }, 'a 200-pixel-wide JPEG');

  const top = await topOnce<{ domains: { name: string; memory: { budget: number; refusals: number } }[] }>(p);
  t.equal(top.domains.length, 7);
  t.ok(top.domains.every((d) => d.memory.budget === Math.floor((1 << 30) / 7)), 'each domain has a seventh of segment.size');
  t.ok(top.domains.every((d) => d.memory.refusals === 0), 'none refused anything for memory');
  await allBack(t, p);
});

t.test('a domain whose bodies change size gives the pages of free packets back: it holds its budget, not more', async (t) => {
  const p = await project(t, 'captrim');
  p.write('faasflow.config.mjs', `export default { gateway: { port: ${p.port} }, segment: { size: '64MiB' }, functions: [{ id: 1, name: 'echo', handler: ${JSON.stringify(path.join(ROOT, 'functions', 'echo.ts'))} }] };\n`);
  const up = await p.cli(['up', '--config', 'faasflow.config.mjs'], { timeoutMs: 180_000 });
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down']).then(() => undefined));
  const name = Segment.ofInstance(p.instance).find((e) => e.memfd)!;
  const seg = Segment.open(name, false);
  t.teardown(() => seg.close());
  const may = holdable(seg.layout);
  // Each burst fills a different class with 40 MiB: 160 MiB written in all, through packets of a 64 MiB budget.
  for (const [size, n] of [[MiB, 40], [2 * MiB, 20], [512 << 10, 80], [4 * MiB, 10]] as const) {
    const rs = await Promise.all(Array.from({ length: n }, () => post(p, '/function/1', Buffer.alloc(size, 1))));
    t.same(new Set(rs.map((r) => r.status)), new Set([200]), `${n} × ${size} B: all 200`);
  }
  await until(() => Segment.stat(name).touched <= may, 20_000, `the segment to hold no more than its budget and tables (${may} B)`);
  t.pass(`${(Segment.stat(name).touched / MiB).toFixed(1)} MiB resident, within the ${(may / MiB).toFixed(1)} MiB it may hold`);
  await allBack(t, p);
});
