// The scheduler's slot arithmetic, pinned where real processes (30.schedules) only hit it by
// timing chance: a start inside a slot's second, and a timer that fires seconds late. The queue is
// a recording sink here because what is asserted is which slots are handed over, in which order,
// and none twice; 30.schedules runs the same class against the real queue process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { Schedules, slotId, type QueueSink } from '../../src/runtime/queue/schedules.js';
import type { ScheduleConfig } from '../../src/config/schedules.js';

const EVERY_SECOND = '* * * * * *';

const schedule: ScheduleConfig = { name: 'tick', cron: EVERY_SECOND, kind: 'function', target: '1', targetName: 'echo', fn: 1, body: '', headers: [] };

/** A queue that records the slots it is handed (by their X-Faasflow-Slot header) and their ids. */
function recordingSink(): QueueSink & { slots: number[]; ids: string[] } {
  const slots: number[] = [];
  const ids: string[] = [];
  return {
    slots,
    ids,
    put(json: object) {
      const j = json as { id: string; headers: [string, string][] };
      ids.push(j.id);
      slots.push(Date.parse(j.headers.find(([k]) => k === 'X-Faasflow-Slot')![1]));
      return Promise.resolve();
    },
    result: () => Promise.resolve({ json: { found: false } }),
    close() {},
  };
}

function stateFile(t: Test, lastSlot: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-slots-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'schedules.json');
  fs.writeFileSync(file, JSON.stringify({ tick: { expr: EVERY_SECOND, slot: lastSlot } }));
  return file;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every slot one second after the one before, starting at `first`, none twice. */
function assertConsecutive(t: Test, slots: number[], first: number): void {
  t.ok(slots.length >= 2, `slots were handed over (${slots.length})`);
  t.equal(slots[0], first, `the first slot handed over is ${new Date(first).toISOString()}`);
  const gaps = slots.slice(1).map((s, i) => s - slots[i]!).filter((d) => d !== 1000);
  t.same(gaps, [], 'each slot follows the one before by exactly one second: none skipped, none twice');
}

t.test('a start inside a slot\'s second hands that slot over, then every following one', async (t) => {
  const now = Date.now();
  const current = Math.floor(now / 1000) * 1000;
  // The state says the slot before was the last handed over: the one of this second is owed.
  const sink = recordingSink();
  const s = new Schedules('slots', [schedule], stateFile(t, current - 1000), sink, () => {});
  t.teardown(() => s.stop());
  s.start(now);
  await sleep(2500);
  s.stop();
  assertConsecutive(t, sink.slots, current);
  t.same(sink.ids, sink.slots.map((slot) => slotId('slots', 'tick', slot)), 'each request id is derived from its slot');
});

t.test('a timer that fires seconds late owes every slot it slept past, in order', async (t) => {
  const now = Date.now();
  const current = Math.floor(now / 1000) * 1000;
  const sink = recordingSink();
  const s = new Schedules('slots', [schedule], stateFile(t, current), sink, () => {});
  t.teardown(() => s.stop());
  s.start(now);
  // The event loop held for over three seconds (a busy machine, a long GC): the next slot's timer
  // runs after three or four more slots have passed.
  const until = Date.now() + 3300;
  while (Date.now() < until) {
    // busy
  }
  await sleep(1500);
  s.stop();
  assertConsecutive(t, sink.slots, current + 1000);
  t.ok(sink.slots.length >= 4, `the slots slept past were handed over (${sink.slots.length})`);
});
