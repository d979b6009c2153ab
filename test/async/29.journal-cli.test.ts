// `queue ls` and `queue purge --pending` see the requests still only in a journal: with no queue
// running (after a crash, say), ls shows them pending and purge drops them, so the next `up`
// does not read them in and run them; a record written after the purge still runs.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { until } from '../cli/helpers.js';
import { journalName } from '../../src/runtime/queue/journal-format.js';
import { runs } from './helpers.js';
import { deadWriter, instance, record } from './journal-helpers.js';

t.test('with no queue running, ls shows journaled requests and purge --pending drops them for good', async (t) => {
  const { p, recFile, journal } = await instance(t, 'jpurge');
  const down = await p.cli(['down']);
  t.equal(down.code, 0, down.stderr);
  const { pid, start } = await deadWriter();
  const purged = [1, 2].map((n) => `00000000-0000-4000-8000-00000000004${n}`);
  const later = '00000000-0000-4000-8000-000000000049';
  const recs = Buffer.concat(purged.map((id) => record(id, Buffer.from(`purged ${id}`))));
  const name = journalName(pid, start, 0);
  const file = path.join(journal, name);
  // Records, then the zeros a writer lays out ahead of them.
  fs.writeFileSync(file, Buffer.concat([recs, Buffer.alloc(4096)]), { mode: 0o600 });

  const ls = await p.cli(['queue', 'ls', '--json']);
  t.equal(ls.code, 0, ls.stderr);
  const listed = JSON.parse(ls.stdout) as { counts: Record<string, number>; requests: { id: string; state: string }[] };
  t.same(purged.map((id) => listed.requests.find((r) => r.id === id)?.state), ['pending', 'pending'], 'ls shows the journaled requests as pending');
  t.equal(listed.counts.pending, 2, 'and counts them');

  const purge = await p.cli(['queue', 'purge', '--pending']);
  t.equal(purge.code, 0, purge.stderr);
  t.match(purge.stdout, /2 pending request\(s\)/, 'purge counts the journaled requests');
  // A request accepted after the purge: written past the records the purge dropped.
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, record(later, Buffer.from('after the purge')), 0, undefined, recs.length);
  fs.closeSync(fd);

  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  await until(() => runs(recFile).some(([r]) => r === later), 20_000, 'the request written after the purge to run');
  await until(() => !fs.existsSync(file), 10_000, 'the journal to be removed');
  t.same(runs(recFile).filter(([r]) => purged.includes(r)), [], 'the purged requests did not run');
});

t.test('with the queue running, ls and purge --pending ask it to read the journals in first', async (t) => {
  const { p, recFile, journal } = await instance(t, 'jpurgeup');
  const { pid, start } = await deadWriter();
  const id = '00000000-0000-4000-8000-000000000051';
  fs.writeFileSync(path.join(journal, journalName(pid, start, 0)), Buffer.concat([record(id, Buffer.from('seen')), Buffer.alloc(4096)]), { mode: 0o600 });
  const ls = await p.cli(['queue', 'ls', '--json']);
  t.equal(ls.code, 0, ls.stderr);
  t.ok((JSON.parse(ls.stdout) as { requests: { id: string }[] }).requests.some((r) => r.id === id), 'ls lists the journaled request');
  await until(() => runs(recFile).some(([r]) => r === id), 20_000, 'it to run');
  const purge = await p.cli(['queue', 'purge', '--pending']);
  t.equal(purge.code, 0, purge.stderr);
  t.match(purge.stdout, /removed 0 dead letter\(s\), 1 result\(s\), 0 pending request\(s\)/);
});
