// Two senders of one schedule racing against a real queue: two schedulers in this process, each
// with its own connection to the instance's queue socket and its own record of fired slots (as two
// processes would have), fire the same per-second slots. Each slot is enqueued, and runs, once:
// the request id the slot determines is the guard, not either sender's memory.
import path from 'node:path';
import t from 'tap';
import { configText, project, until } from '../cli/helpers.js';
import { RECORDER, runs } from './helpers.js';
import { Schedules } from '../../src/runtime/queue/schedules.js';
import { QueueLink } from '../../src/runtime/gateway/queue-link.js';
import { instanceFiles } from '../../src/common/paths.js';
import type { ScheduleConfig } from '../../src/config/schedules.js';

t.test('two schedulers firing the same slots enqueue each slot once', async (t) => {
  const p = await project(t, 'schedrace');
  const rec = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, name: 'rec', handler: './rec.ts', env: { REC_FILE: ${JSON.stringify(rec)} } }]`, '  security: { sandbox: false },\n  async: {},\n'));
  t.equal((await p.cli(['up'])).code, 0);
  const files = instanceFiles(p.runtimeDir);
  const schedule: ScheduleConfig = { name: 'race', cron: '* * * * * *', kind: 'function', target: '1', targetName: 'rec', fn: 1, body: 'race', headers: [] };
  const notes: string[] = [];
  const senders = [1, 2].map((n) => {
    const link = new QueueLink(files.queueSocket, files.token, 1 << 20, { runs: false, log: (_l, m) => notes.push(`link ${n}: ${m}`) });
    const s = new Schedules(p.instance, [schedule], path.join(p.dir, `schedules-${n}.json`), link, (_l, m) => notes.push(`sender ${n}: ${m}`));
    t.teardown(() => s.stop());
    return s;
  });
  for (const s of senders) s.start();
  await until(() => runs(rec).length >= 5 && senders.every((s) => s.fired >= 5), 30_000, 'five slots run, each sender done with five');
  for (const s of senders) s.stop();
  const ids = runs(rec).map(([id]) => id);
  t.equal(new Set(ids).size, ids.length, `no slot ran twice (${ids.length} runs)`);
  const ls = JSON.parse((await p.cli(['queue', 'ls'], { json: true })).stdout) as { requests: { id: string; caller: string }[] };
  const listed = ls.requests.filter((r) => r.caller === 'schedule:race').map((r) => r.id);
  t.equal(new Set(listed).size, listed.length, 'each slot is in the queue once');
  t.ok(listed.length >= 5);
  t.comment(notes.join('\n'));
  t.equal((await p.cli(['down'])).code, 0);
});
