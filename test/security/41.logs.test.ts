// Issue 18, the log pipes: a function's stdout and stderr are hostile input to the supervisor. A
// handler writes 600 MiB without a newline, a 150 MiB stderr line, random bytes and NULs, huge and
// small lines in turn; as root and unprivileged next to a bystander under a steady request loop
// (test/security/harness.ts checks the supervisor's memory, the log files' sizes, the bystander and
// the pids). Then the cuts are counted in /metrics and `top --once --json`, and `faasflow logs`
// shows the marked cut. A flood past logs.rate is 42.log-rate.
import t, { type Test } from 'tap';
import { asRootAndUnprivileged, hostileRun, until } from './harness.js';
import type { User } from './helpers.js';
import { LINE_BOUND, LOUD, MAX_LINE, MiB, checkFiles, counted, logFiles, logsOf, poke } from './log-checks.js';

/** Long lines, read as fast as they come (a high rate): the supervisor holds one bounded line per stream. */
async function longLines(t: Test, user?: User): Promise<void> {
  const opts = { hostile: LOUD, hostileFields: "timeout: '2m'", logsFields: "rate: '32MiB', burst: '1MiB'", lineBound: LINE_BOUND };
  await hostileRun(t, opts, async (h) => {
    // Waits on the files themselves (cheap); `faasflow logs` is asked once what is there is known.
    const logged = (re: RegExp) => until(() => logFiles(h).some((text) => re.test(text)), 150);
    await poke(t, h, { what: 'stdout', mib: '600' });
    // The line has no end yet: only its first 16 KiB are held. A newline ends it, marked.
    await poke(t, h, { what: 'end' });
    const cutLine = new RegExp(` x{${MAX_LINE}} … \\[cut: (\\d+) bytes\\]$`, 'm');
    t.ok(await logged(cutLine), 'the 600 MiB line is logged, cut and marked');
    const cut = Number(cutLine.exec(await logsOf(h, 2, 20))?.[1]);
    t.ok(cut >= 600 * MiB - MAX_LINE, `faasflow logs --id 2 shows it; the mark counts what was dropped: ${cut} bytes`);

    await poke(t, h, { what: 'stderr', mib: '150' });
    t.ok(await logged(new RegExp(` e{${MAX_LINE}} … \\[cut: \\d+ bytes\\]$`, 'm')), 'the 150 MiB stderr line, cut and marked');

    await poke(t, h, { what: 'alternate', mib: '20' });
    t.ok(await logged(/ small line 19$/m), 'huge and small lines in turn: the last small line is logged');
    const small = [...(await logsOf(h, 2, 100)).matchAll(/ small line (\d+)$/gm)].map((m) => Number(m[1]));
    t.same(small, Array.from({ length: 20 }, (_, i) => i), 'every small line whole, in order');

    await poke(t, h, { what: 'garbage', mib: '8' });
    // Past the garbage (read in order), a line of its own: written until one is logged, since the
    // garbage may have spent the rate for a moment.
    t.ok(await until(async () => (await h.poke({ what: 'mark', text: 'after-garbage' })).status === 200 && logFiles(h).some((text) => / mark after-garbage$/m.test(text)), 50), 'the garbage is read');
    t.ok(logFiles(h).some((text) => text.includes('\\x00')), 'its NULs are in the log as escapes');
    checkFiles(t, h);

    const c = await counted(h, 2);
    t.ok(c.metrics.cut >= 22, `/metrics counts the cut lines: ${c.metrics.cut}`);
    t.ok(c.top.cut >= 22, `top --once --json too: ${c.top.cut}`);
    const bystander = await counted(h, 1);
    t.same([bystander.metrics, bystander.top], [{ cut: 0, dropped: 0 }, { cut: 0, dropped: 0 }], 'the bystander lost no line');
  }, user);
}

asRootAndUnprivileged(t, 'long lines, NULs and invalid UTF-8 on stdout and stderr', longLines);
