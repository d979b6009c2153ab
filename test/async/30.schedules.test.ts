// Schedules through the real CLI and processes: a per-second schedule fires async requests whose
// results reach the callback, listed by `queue ls` and in the access log under the request id the
// slot determines; a slot that passed while the instance was down fires once at `up` (the latest
// only, never a backlog); a bad schedule is refused at `up` naming the field and the fix.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { configText, project, until } from '../cli/helpers.js';
import { RECORDER, callbackServer, runs } from './helpers.js';
import { slotId } from '../../src/runtime/queue/schedules.js';

/** The slot (ms) of each of `ids`, found among the whole seconds of [from, to]; -1 when none. */
function slotsOf(instance: string, name: string, ids: string[], from: number, to: number): Map<string, number> {
  const bySlot = new Map<string, number>();
  for (let s = Math.floor(from / 1000) * 1000; s <= to; s += 1000) bySlot.set(slotId(instance, name, s), s);
  return new Map(ids.map((id) => [id, bySlot.get(id) ?? -1]));
}

const schedConfig = (port: number, rec: string, schedule: string) => configText(port, `[{ id: 1, name: 'rec', handler: './rec.ts', env: { REC_FILE: ${JSON.stringify(rec)} } }]`,
  `  security: { sandbox: false },\n  async: {},\n  schedules: [${schedule}],\n`);

t.test('a per-second schedule fires async requests: callback, queue ls, access log, one request per slot', async (t) => {
  const p = await project(t, 'sched');
  const rec = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  const cb = await callbackServer(t);
  p.write('faasflow.config.ts', schedConfig(p.port, rec, `{ name: 'tick', cron: '* * * * * *', function: 'rec', body: 'tick', callback: ${JSON.stringify(cb.url)} }`));
  const start = Date.now();
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  await until(() => cb.got.length >= 3, 30_000, 'three scheduled callbacks');
  const first = cb.got[0];
  t.same({ status: first.status, state: first.state, body: first.body }, { status: 200, state: 'done', body: `ran ${first.id}: tick` }, 'the callback carries the function\'s result');
  const slots = slotsOf(p.instance, 'tick', cb.got.map((c) => c.id), start - 2000, Date.now());
  t.same([...slots.values()].filter((s) => s < 0), [], 'every request id is the one its (schedule, slot) determines');
  const ids = runs(rec).map(([id]) => id);
  t.equal(new Set(ids).size, ids.length, 'no slot ran twice');
  t.same(runs(rec).map(([, a]) => a).filter((a) => a !== 1), [], 'each ran once, on its first attempt');

  const ls = await p.cli(['queue', 'ls'], { json: true });
  t.equal(ls.code, 0, ls.stderr);
  const listed = (JSON.parse(ls.stdout) as { requests: { id: string; caller: string; name: string }[] }).requests;
  t.ok(listed.some((r) => r.id === first.id && r.caller === 'schedule:tick' && r.name === 'rec'), 'queue ls lists the firing, caller schedule:tick');
  // The run's line carries the gateway's own (numeric) request id; the caller names the schedule.
  const accessFile = path.join(p.runtimeDir, 'logs', 'access-0.log');
  const line: string = await until(() => (fs.existsSync(accessFile) ? fs.readFileSync(accessFile, 'utf8').split('\n').find((l) => l.includes('"caller":"schedule:tick"')) : undefined), 10_000, 'a scheduled run in the access log') as string;
  t.match(JSON.parse(line), { function: 'rec', status: 200, caller: 'schedule:tick' }, 'the access log has the runs, caller schedule:tick');
  t.equal((await p.cli(['down'])).code, 0);
});

t.test('a slot that passed while the instance was down fires once at up: the latest, not a backlog', async (t) => {
  const p = await project(t, 'schedup');
  const rec = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', schedConfig(p.port, rec, "{ name: 'even', cron: '*/2 * * * * *', function: 'rec', body: 'even' }"));
  const start = Date.now();
  t.equal((await p.cli(['up'])).code, 0);
  await until(() => runs(rec).length >= 1, 20_000, 'a first firing');
  t.equal((await p.cli(['down'])).code, 0);
  const downAt = Date.now();
  const before = new Set(runs(rec).map(([id]) => id));
  // Down for at least three slots (every 2 s): a backlog would fire them all.
  await new Promise((r) => setTimeout(r, 6500));
  const upAt = Date.now();
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  // What was enqueued (queue ls), not what has run yet: a run may still wait for its container.
  const queued = async () => (JSON.parse((await p.cli(['queue', 'ls'], { json: true })).stdout) as { requests: { id: string; caller: string }[] }).requests.filter((r) => r.caller === 'schedule:even').map((r) => r.id);
  await until(async () => (await queued()).filter((id) => !before.has(id)).length >= 3, 30_000, 'the missed slot and two after it in the queue');
  t.equal((await p.cli(['down'])).code, 0);

  const ran = runs(rec).map(([id]) => id);
  t.equal(new Set(ran).size, ran.length, 'no slot ran twice, across the restart');
  const all = await queued();
  t.equal(new Set(all).size, all.length, 'no slot is in the queue twice');
  t.same([...before].filter((id) => !all.includes(id)), [], 'the queue has every slot that ran before the restart');
  const slots = slotsOf(p.instance, 'even', all, start - 2000, Date.now());
  t.same([...slots.values()].filter((s) => s < 0), [], 'every id is a slot\'s');
  const after = [...slots.entries()].filter(([id]) => !before.has(id)).map(([, s]) => s).sort((a, b) => a - b);
  const missed = [];
  for (let s = Math.ceil((downAt + 1) / 2000) * 2000; s <= upAt; s += 2000) missed.push(s);
  t.ok(missed.length >= 3, `slots passed while down: ${missed.map((s) => new Date(s).toISOString()).join(', ')}`);
  t.same(missed.slice(0, -1).filter((s) => after.includes(s)), [], 'the older missed slots did not fire (no backlog)');
  t.ok(after[0] >= missed[missed.length - 1], 'the first firing after up is the latest missed slot or later');
  for (let i = 1; i < after.length; i++) t.equal(after[i] - after[i - 1], 2000, `then every slot once (${new Date(after[i]).toISOString()})`);
  const log = fs.readFileSync(path.join(p.runtimeDir, 'logs', 'supervisor.log'), 'utf8');
  const caught = new Date(after[0]).toISOString();
  t.match(log, `schedule even: slot ${caught} passed while the instance was down: firing it once`, 'the supervisor fired it as the missed slot');
  t.equal(log.split(`slot ${caught} passed while`).length - 1, 1, 'once');
});

t.test('bad schedules are refused at up, naming the field and the fix', async (t) => {
  const p = await project(t, 'schedbad');
  const rec = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  const cases: [string, string, RegExp][] = [
    ['a bad cron', "{ cron: 'every 5 minutes', function: 'rec' }", /schedules\[0\]\.cron: "every 5 minutes" is not a cron expression .*write 5 fields/],
    ['a field out of range', "{ cron: '61 * * * *', function: 'rec' }", /schedules\[0\]\.cron: "61 \* \* \* \*" is not a cron expression/],
    ['an unknown function', "{ cron: '* * * * *', function: 'nope' }", /schedules\[0\]\.function: unknown function "nope": name a function of this config \(1 rec\)/],
    ['no target', "{ cron: '* * * * *' }", /schedules\[0\]: name what the schedule calls/],
    ['two of one name', "{ name: 'a', cron: '* * * * *', function: 'rec' }, { name: 'a', cron: '* * * * *', function: 1 }", /schedules\[1\]\.name: duplicate schedule name "a"/],
    ['a reserved header', "{ cron: '* * * * *', function: 'rec', headers: { 'X-Callback-Url': 'http://x/' } }", /schedules\[0\]\.headers\.X-Callback-Url: is set by faasflow itself: use the schedule's `callback` field/],
  ];
  for (const [what, schedule, error] of cases) {
    p.write('faasflow.config.ts', schedConfig(p.port, rec, schedule));
    const up = await p.cli(['up']);
    t.not(up.code, 0, `${what}: up fails`);
    t.match(up.stderr, error, `${what}: the error names the field and the fix`);
  }
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'rec', handler: './rec.ts' }]", "  schedules: [{ cron: '* * * * *', function: 'rec' }],\n"));
  const noAsync = await p.cli(['up']);
  t.not(noAsync.code, 0);
  t.match(noAsync.stderr, /schedules: schedules run as async requests, and this config has no async queue: add `async: \{\}`/);
  t.equal(p.supervisorPid(), undefined, 'nothing started');
});
