// With async.store nats the queue keeps where it stopped reading each gateway journal in a file in
// the state directory (queue/journal-offsets.ts): a queue process killed and started again resumes
// there, rather than reading the live gateway's whole journal again and taking back in a request
// whose result `queue purge` had removed (which then ran a second time). With no queue running,
// `queue purge --pending` moves those offsets past the journaled requests it drops.
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { post, request } from '../helpers/http.js';
import { configText, project, psChildren, until, type Project } from '../cli/helpers.js';
import { RECORDER, runs } from './helpers.js';
import { natsMissing, natsServer } from './nats.js';
import { journalName } from '../../src/runtime/queue/journal-format.js';
import { deadWriter, record } from './journal-helpers.js';

const idOf = (b: Buffer) => String((JSON.parse(b.toString()) as Record<string, unknown>).id);

async function natsInstance(t: Test, tag: string): Promise<{ p: Project; rec: string }> {
  const nats = await natsServer(t);
  const p = await project(t, tag);
  const rec = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, name: 'rec', handler: './rec.ts', env: { REC_FILE: ${JSON.stringify(rec)} } }]`,
    `  security: { sandbox: false },\n  async: { backoff: '50ms', store: { nats: { url: ${JSON.stringify(nats.url)} } } },\n`));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down', '--clean-shm']));
  return { p, rec };
}

t.test('a restarted JetStream queue resumes each journal where it stopped', { skip: natsMissing() }, async (t) => {
  const { p, rec } = await natsInstance(t, 'jsoff');

  const first = idOf((await post(p.port, '/async-function/rec', 'once')).body);
  await until(async () => (await request(p.port, 'GET', `/async-result/${first}`)).status === 200, 20_000, 'the first request to finish');
  const offsets = path.join(p.dir, 'state', 'journal-offsets.json');
  await until(() => fs.existsSync(offsets), 10_000, 'the offsets file');
  const purge = await p.cli(['queue', 'purge']);
  t.equal(purge.code, 0, purge.stderr);

  const queue = (await psChildren(p)).find((c) => c.role === 'queue' && c.state === 'ready');
  t.ok(queue, 'the queue process is up');
  process.kill(queue!.pid, 'SIGKILL');
  await until(async () => (await psChildren(p)).some((c) => c.role === 'queue' && c.state === 'ready' && c.pid !== queue!.pid), 30_000, 'a new queue process');

  // The restarted queue read the journals before it was ready: a request taken back in is pending
  // now and runs before (or beside) this one; the listing waits until nothing is pending.
  const second = idOf((await post(p.port, '/async-function/rec', 'after')).body);
  await until(async () => (await request(p.port, 'GET', `/async-result/${second}`)).status === 200, 20_000, 'the second request to finish');
  await until(async () => (JSON.parse((await p.cli(['queue', 'ls'], { json: true })).stdout) as { counts: Record<string, number> }).counts.pending === 0, 20_000, 'nothing pending');
  t.same(runs(rec).filter(([i]) => i === first).map(([, a]) => a), [1], 'the purged request ran once, not again after the restart');
});

t.test('with no JetStream queue running, purge --pending drops the journaled requests for good', { skip: natsMissing() }, async (t) => {
  const { p, rec } = await natsInstance(t, 'jspurge');
  t.equal((await p.cli(['down'])).code, 0);
  const { pid, start } = await deadWriter();
  const purged = '00000000-0000-4000-8000-000000000061';
  const later = '00000000-0000-4000-8000-000000000069';
  const first = record(purged, Buffer.from('purged'));
  const file = path.join(p.dir, 'state', 'journal', journalName(pid, start, 0));
  fs.writeFileSync(file, Buffer.concat([first, Buffer.alloc(4096)]), { mode: 0o600 });
  const ls = JSON.parse((await p.cli(['queue', 'ls'], { json: true })).stdout) as { requests: { id: string; state: string }[] };
  t.equal(ls.requests.find((r) => r.id === purged)?.state, 'pending', 'ls lists the journaled request');
  const purge = await p.cli(['queue', 'purge', '--pending']);
  t.equal(purge.code, 0, purge.stderr);
  t.match(purge.stdout, /1 pending request\(s\)/);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, record(later, Buffer.from('after the purge')), 0, undefined, first.length);
  fs.closeSync(fd);
  t.equal((await p.cli(['up'])).code, 0);
  await until(() => runs(rec).some(([r]) => r === later), 20_000, 'the request written after the purge to run');
  await until(() => !fs.existsSync(file), 10_000, 'the journal to be removed');
  t.notOk(runs(rec).some(([r]) => r === purged), 'the purged request did not run');
});
