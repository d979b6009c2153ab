// The gateways' journals (gateway/journal.ts, queue/journal-ingest.ts). A 202 means the request is
// in its gateway's journal, not yet in the queue's store: a result asked for at once is still found
// (the queue reads every journal before answering); a journal whose writer died mid-record keeps its
// complete records and loses only the torn one; a killed gateway's journal goes once it is stored.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { post, request } from '../helpers/http.js';
import { psChildren, until } from '../cli/helpers.js';
import { encodeRecord, journalName, parseJournalName } from '../../src/runtime/queue/journal-format.js';
import { runs } from './helpers.js';
import { deadWriter, instance, queueLog, record } from './journal-helpers.js';

t.test('a result asked for right after its 202 is never a 404', async (t) => {
  const { p } = await instance(t, 'jres');
  const statuses = new Map<number, number>();
  for (let i = 0; i < 200; i++) {
    const r = await post(p.port, '/async-function/rec', `n${i}`);
    t.equal(r.status, 202);
    const id = String(r.headers['x-request-id']);
    const g = await request(p.port, 'GET', `/async-result/${id}`);
    statuses.set(g.status, (statuses.get(g.status) ?? 0) + 1);
  }
  t.notOk(statuses.has(404), `no 404 among 200 results asked for at once (${JSON.stringify([...statuses])})`);
});

t.test("a dead writer's torn record is skipped; its complete records run; its file is removed", async (t) => {
  const { p, recFile, journal } = await instance(t, 'jtorn');
  const { pid, start } = await deadWriter();
  const ids = [1, 2, 3].map((n) => `00000000-0000-4000-8000-00000000002${n}`);
  const rec = (id: string) => record(id, Buffer.from(`torn test ${id}`));
  const torn = rec('00000000-0000-4000-8000-000000000029');
  const bytes = Buffer.concat([rec(ids[0]), Buffer.concat(encodeRecord({ note: 'not a request' }, Buffer.alloc(0))), rec(ids[1]), rec(ids[2]), torn.subarray(0, torn.length - 5), Buffer.alloc(4096)]);
  const name = journalName(pid, start, 0);
  fs.writeFileSync(path.join(journal, `.${name}`), bytes, { mode: 0o600 });
  fs.renameSync(path.join(journal, `.${name}`), path.join(journal, name));

  await until(() => ids.every((id) => runs(recFile).some(([r]) => r === id)), 20_000, 'the three complete records to run');
  t.pass('the complete records ran');
  await until(() => !fs.existsSync(path.join(journal, name)), 10_000, 'the journal to be removed');
  t.pass('the dead writer\'s journal is removed once stored');
  t.notOk(runs(recFile).some(([r]) => r.endsWith('0029')), 'the torn record did not run');
  t.match(queueLog(p), new RegExp(`journal ${name}: a CRC that does not match at byte \\d+ of ${bytes.length}, and its gateway is gone: the bytes from there are skipped`));
  t.match(queueLog(p), new RegExp(`journal ${name}: a record that is not an async request`));
});

t.test('records larger than a read and after one are read; a header past the bounds stops the reading there', async (t) => {
  const { p, recFile, journal } = await instance(t, 'jbig');
  const { pid, start } = await deadWriter();
  const ids = [1, 2, 3].map((n) => `00000000-0000-4000-8000-00000000003${n}`);
  // The reader takes a header first, then the record's size or a chunk: 100 KiB spans several chunks.
  const big = record(ids[0], Buffer.alloc(100 << 10, 7));
  const hostile = Buffer.alloc(16);
  hostile.write('FFJ1', 0);
  hostile.writeUInt32LE(0xffffffff, 4);
  const after = record('00000000-0000-4000-8000-000000000039', Buffer.from('past the hostile header'));
  const bytes = Buffer.concat([big, record(ids[1], Buffer.from('small')), record(ids[2], Buffer.alloc(0)), hostile, after, Buffer.alloc(40 << 10)]);
  const name = journalName(pid, start, 0);
  fs.writeFileSync(path.join(journal, `.${name}`), bytes, { mode: 0o600 });
  fs.renameSync(path.join(journal, `.${name}`), path.join(journal, name));
  await until(() => ids.every((id) => runs(recFile).some(([r]) => r === id)), 20_000, 'the three records before the hostile header to run');
  await until(() => !fs.existsSync(path.join(journal, name)), 10_000, 'the journal to be removed');
  t.notOk(runs(recFile).some(([r]) => r.endsWith('0039')), 'nothing past the hostile header ran');
  t.match(queueLog(p), new RegExp(`journal ${name}: a record of 4294967295 \\+ \\d+ bytes .* and its gateway is gone`));
});

t.test("a SIGKILLed gateway's journal is removed once stored; one journal per live gateway", async (t) => {
  const { p, recFile, journal } = await instance(t, 'jkill');
  const gateways = async () => (await psChildren(p)).filter((c) => c.role === 'gateway' && c.state === 'ready').map((c) => c.pid);
  const before = await gateways();
  t.equal(before.length, 2, 'two gateways');
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const r = await post(p.port, '/async-function/rec?ms=20', `k${i}`);
    if (r.status === 202) ids.push(String(r.headers['x-request-id']));
  }
  t.equal(ids.length, 50, 'all accepted');
  const victim = before[0];
  process.kill(victim, 'SIGKILL');
  const livePids = (await until(async () => {
    const now = await gateways();
    return now.length === 2 && !now.includes(victim) ? now : undefined;
  }, 20_000, 'the gateway to be replaced')) ?? [];
  const files = (await until(() => {
    const f = fs.readdirSync(journal).filter((n) => parseJournalName(n));
    return f.length === 2 && f.every((n) => livePids.includes(parseJournalName(n)!.pid)) ? f : undefined;
  }, 20_000, 'one journal per live gateway, the killed one\'s removed')) ?? [];
  t.equal(files.length, 2, `journals: ${files.join(', ')}`);
  await until(() => ids.every((id) => runs(recFile).some(([r]) => r === id)), 30_000, 'every accepted request to run');
  t.pass('every accepted request ran');
});
