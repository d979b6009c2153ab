// Issue 18, the log pipes: a function floods short lines far past logs.rate (at the defaults: 1 MiB/s
// after a 4 MiB burst), as root and unprivileged next to a bystander under a steady request loop
// (test/security/harness.ts checks the supervisor's memory, the log files' sizes, the bystander and
// the pids). The lines past the rate are dropped, counted in /metrics and `top --once --json`, and
// said in the function's log once a second; the supervisor reads the pipe no faster than 8 × the
// rate, so the backlog stays in the replica; and the supervisor's own line about the replica's exit
// is logged although the function's budget is spent.
import t, { type Test } from 'tap';
import { asRootAndUnprivileged, hostileRun, until } from './harness.js';
import type { User } from './helpers.js';
import { LINE_BOUND, LOUD, MiB, checkFiles, counted, logFiles, logsOf, poke } from './log-checks.js';

/** The supervisor's reading of one pipe at the default logs.rate and burst (logs.ts READ_FACTOR). */
const READ_BURST = 32 * MiB;
const READ_RATE = 8 * MiB;
/** The supervisor's notice of lines dropped over the rate: its time and count. */
const NOTICE = String.raw`^(\S+) supervisor\[\d+\] dropped (\d+) lines \([\d.]+ (?:[KMG]iB|B)\) from fn-2: over logs\.rate \(1\.0 MiB/s\)$`;
/** The shortest of the flood's lines ("flood line 0 " + 40 × "f" + "\n"), and what a line costs the read budget besides its bytes (output.ts LINE_COST). */
const FLOOD_LINE = 54;
const LINE_COST = 128;

async function flood(t: Test, user?: User): Promise<void> {
  await hostileRun(t, { hostile: LOUD, lineBound: LINE_BOUND }, async (h) => {
    const started = Date.now();
    const f = await poke(t, h, { what: 'flood', mib: '64' });
    t.ok(f.buffered > 0, `the backlog is the replica's: ${(f.buffered / MiB).toFixed(0)} MiB buffered in it`);
    // The backlog is read for seconds: a snapshot over one of them sees lines dropped in it.
    const top = JSON.parse((await h.inst.cli(['top', '--once', '--interval', '1000'], true)).stdout) as { events: { level: string; text: string }[] };
    t.ok(top.events.some((e) => e.level === 'warn' && /^container 2\/0 pid \d+: \d+ log lines? dropped \(over logs\.rate, or the disk behind\)/.test(e.text)), `top's events say it: ${top.events.map((e) => e.text).join(' | ').slice(0, 300)}`);
    // What the supervisor read of the pipe costs at least what the lines it dropped cost; it may
    // read no more than its burst and its rate since the flood began, however much was written.
    const c = await counted(h, 2);
    const ceiling = READ_BURST + (READ_RATE * (Date.now() - started)) / 1000 + MiB;
    t.ok(c.metrics.dropped > 10_000, `/metrics counts the dropped lines: ${c.metrics.dropped}`);
    t.ok(c.top.dropped >= c.metrics.dropped, `top --once --json too: ${c.top.dropped}`);
    const read = Math.max(c.metrics.dropped, c.top.dropped) * (FLOOD_LINE + LINE_COST);
    t.ok(read <= ceiling, `read at most ${(ceiling / MiB).toFixed(0)} MiB of budget, ${(f.written / MiB).toFixed(0)} MiB written (the dropped lines alone cost ${(read / MiB).toFixed(1)} MiB)`);
    t.ok(await until(() => logFiles(h).some((text) => new RegExp(NOTICE, 'm').test(text)), 150), 'the dropped lines are said');
    // The replica exits with its budget spent: the supervisor's line about that is not the function's to lose.
    const r = await h.poke({ what: 'flood', mib: '16', exit: '7' });
    t.ok(r.status === 200 || r.status >= 500, `the second flood answered, or its replica went first (${r.status})`);
    t.ok(await until(() => logFiles(h).some((text) => / exited with code 7/.test(text)), 150), 'its exit is logged');
    t.ok(await until(async () => (await h.poke({ what: 'end' })).status === 200, 100), 'the replica is back (restarted)');
    const after = await counted(h, 2);
    t.ok(after.metrics.dropped >= c.metrics.dropped, `the count goes on across the restart: ${after.metrics.dropped}`);
    const bystander = await counted(h, 1);
    t.same([bystander.metrics.dropped, bystander.top.dropped], [0, 0], 'the bystander lost no line');

    // One notice a second at most (in what the rotated files kept), and no more said than counted.
    const notices = logFiles(h).flatMap((text) => [...text.matchAll(new RegExp(NOTICE, 'gm'))]).map((m) => ({ at: Date.parse(m[1]), n: Number(m[2]) })).sort((a, b) => a.at - b.at);
    t.ok(notices.length > 0 && notices.every((x, i) => i === 0 || x.at - notices[i - 1].at >= 900), `${notices.length} notices, each a second or more after the one before`);
    const said = notices.reduce((s, x) => s + x.n, 0);
    t.ok(said <= after.metrics.dropped, `the notices kept say ${said} of the ${after.metrics.dropped} dropped`);
    // `faasflow logs` shows every notice the kept files hold, from whichever of them (current, .1,
    // .2), and there is at least one (checked above). Which file holds them is not fixed: on a
    // starved machine the supervisor may read slower than the rate for a while (no drops, no
    // notice). Once the backlog is read the files stop changing; wait for that, then compare.
    let sizes = '';
    await until(() => {
      const now = logFiles(h).map((x) => x.length).join(',');
      const same = now === sizes;
      sizes = now;
      return same;
    }, 60, 1500);
    const kept = logFiles(h).flatMap((text) => [...text.matchAll(new RegExp(NOTICE, 'gm'))].map((m) => m[0]));
    const shown = await logsOf(h, 2, 100_000);
    t.ok(kept.length > 0 && kept.every((line) => shown.includes(line)), `faasflow logs --id 2 shows each of them (${kept.length})`);
    checkFiles(t, h);
  }, user);
}

asRootAndUnprivileged(t, 'a flood of short lines past logs.rate', flood);
