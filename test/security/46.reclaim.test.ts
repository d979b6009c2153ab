// A function that fills its own packet table with random owners makes each of them a dead process
// holding packets. The supervisor reclaims them all (the function's requests are served again),
// and its log says so in one line per domain, with counts and a few pids, rate-limited: the
// second flood within a minute adds no line. (One line per pid let one request write 1,552 lines
// and rotate the log's history away.)
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/runtime.js';
import { asRootAndUnprivileged, hostileRun, until, type HostileContext } from './harness.js';

const HOSTILE = fs.readFileSync(new URL('./fixtures/scribbler.ts', import.meta.url), 'utf8');

type Table = { packets: number; scribbled: number; held: number };

async function table(h: HostileContext, what: 'scribble' | 'count'): Promise<Table | undefined> {
  const r = await h.poke({ do: what, pkg: ROOT });
  return r.status === 200 ? (JSON.parse(r.body.toString()) as Table) : undefined;
}

const reclaimLines = (h: HostileContext) => fs.readFileSync(path.join(h.inst.runtimeDir, 'logs', 'supervisor.log'), 'utf8').split('\n').filter((l) => /domain hostile: reclaimed/.test(l));

async function flood(t: Test, h: HostileContext): Promise<number> {
  const s = await table(h, 'scribble');
  t.ok(s && s.scribbled > 100, `the handler gave ${s?.scribbled} of its ${s?.packets} packets random owners`);
  // The sweep runs every 5 s; the handler's own request holds a packet or two meanwhile.
  t.ok(await until(async () => ((await table(h, 'count'))?.held ?? Infinity) <= 2, 100, 300), 'the supervisor reclaimed them: the function is served and its table is free again');
  return s?.scribbled ?? 0;
}

asRootAndUnprivileged(t, 'random owners in its own packet table: reclaimed, and logged in one line', (t, user) =>
  hostileRun(t, { hostile: HOSTILE }, async (h) => {
    const n = await flood(t, h);
    const lines = reclaimLines(h);
    t.equal(lines.length, 1, `one line for the domain: ${lines[0]}`);
    const m = /reclaimed (\d+) packet\(s\) held by (\d+) dead owner\(s\) \(pid ((?:\d+, )*\d+), … (\d+) more\)/.exec(lines[0] ?? '');
    t.ok(m, 'with counts and a few pids');
    if (m) {
      t.equal(Number(m[1]), n, 'every scribbled packet is counted');
      t.equal(Number(m[2]), n, 'one dead owner each');
      t.equal(m[3].split(', ').length, 5, 'five pids named');
      t.equal(Number(m[4]), n - 5, 'the rest counted');
    }
    await flood(t, h);
    t.equal(reclaimLines(h).length, 1, 'a second flood within the minute adds no line');
  }, user),
);
