import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tempSegment } from '../helpers/segments.js';
import { forkFixture, requireBuiltShm, type Worker } from './fixtures/helpers.js';

interface RingStats {
  id: number;
  pid: number;
  sent: number;
  received: number;
  freed: number;
  bad: number;
  exhaustedTurns: number;
  fallbacks: number;
  perClass: number[];
  errors: string[];
  startedAt: number;
  endedAt: number;
  cpuMs: number;
}

const WORKERS = 4;
const PER_WORKER = 50_000;

// Without a budget the classes' packets run out; with one (a quarter of what the packets hold) the
// bytes run out first, and the charged counter must hold the domain to them under contention.
for (const budget of [undefined, 2 << 20]) {
  t.test(`${WORKERS} processes hand ${WORKERS * PER_WORKER} packets of random sizes around a ring${budget ? ', within a 2 MiB budget' : ''}`, async (t) => {
    requireBuiltShm();
    // Few packets per class, so the pool runs full, alloc falls back to larger classes and every
    // packet is reused hundreds of times across processes.
    const seg = tempSegment(t, { size: 32 << 20, budget, classes: [{ size: 256, count: 512 }, { size: 4096, count: 512 }, { size: 65536, count: 96 }] });
    // Sampled while the ring runs: packets held (the owner words), which may pass the budget only by
    // the claims in flight between a claim and its charge being undone (one per process).
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, seg.pool.memory().held)), 2);
    t.teardown(() => clearInterval(sampler));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const seed = Math.floor(Math.random() * 2 ** 31);
    t.comment(`seed ${seed}`);

    const workers: Worker[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(forkFixture(t, 'ring-worker.mjs', [seg.name, String(i), String(PER_WORKER), dir, String(seed)]));
    await Promise.all(workers.map((w) => w.next<{ type: string }>((m) => m.type === 'listening')));
    workers.forEach((w, i) => {
      const nextId = (i + 1) % WORKERS;
      const prev = workers[(i + WORKERS - 1) % WORKERS];
      w.child.send({ type: 'go', nextId, nextPid: workers[nextId].pid, prevPid: prev.pid, expect: PER_WORKER });
    });
    const done = await Promise.all(workers.map((w) => w.next<{ type: string; stats: RingStats }>((m) => m.type === 'done', 120_000)));
    const codes = await Promise.all(workers.map((w) => w.exited));
    t.same(codes, workers.map(() => 0), 'every worker exits 0');

    const stats = done.map((d) => d.stats);
    for (const s of stats) {
      t.same(s.errors, [], `worker ${s.id} (pid ${s.pid}) saw no wrong owner, stamp or checksum`);
      t.equal(s.bad, 0);
      t.equal(s.sent, PER_WORKER);
      t.equal(s.received, PER_WORKER, `worker ${s.id} received every packet of its predecessor`);
      t.equal(s.freed, PER_WORKER);
    }
    const total = stats.reduce((a, s) => a + s.freed, 0);
    t.ok(total >= 200_000, `${total} packets allocated, handed over, verified and freed`);
    // The workers really ran at the same time: every one started before any other finished.
    const lastStart = Math.max(...stats.map((s) => s.startedAt));
    const firstEnd = Math.min(...stats.map((s) => s.endedAt));
    t.ok(lastStart < firstEnd, 'the workers overlapped in time');
    const perClass = stats.reduce((a, s) => a.map((n, i) => n + s.perClass[i]), seg.pool.classes.map(() => 0));
    t.ok(perClass.every((n) => n > 0), `every class was used (${perClass.join(' / ')})`);
    t.comment(`pool full ${stats.reduce((a, s) => a + s.exhaustedTurns, 0)} times, ${stats.reduce((a, s) => a + s.fallbacks, 0)} fallbacks to a larger class`);
    t.comment(`per worker: ${stats.map((s) => `${s.endedAt - s.startedAt} ms wall, ${s.cpuMs} ms CPU`).join('; ')}`);

    t.equal(seg.pool.inUse(), 0, 'nothing is left allocated');
    t.same(seg.pool.held(), []);
    for (const u of seg.pool.usage()) {
      t.equal(u.inUse, 0);
      t.ok(u.highWater > 0 && u.highWater <= u.count, `class ${u.size}: high-water ${u.highWater} of ${u.count}`);
    }
    clearInterval(sampler);
    t.equal(seg.i32[seg.layout.poolWord], 0, 'the charged counter is back to exactly 0');
    if (budget) t.ok(most <= budget + WORKERS * 65536, `at most ${most} B held at once, within the budget (+ a claim being undone per process)`);
  });
}
