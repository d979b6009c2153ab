// The channel from a container to the supervisor (issue 18, part 1). A container has no Node IPC
// channel: its own channel is parsed and bounded by the supervisor at one place, and whatever its
// handler writes there costs only its own replica: the supervisor kills it with one log line that
// says why, and the restart policy replaces it. Every attack below runs in turn against one
// instance (as root, then as an unprivileged user), each waiting for the replica's replacement;
// the harness's checks then cover them all: the same supervisor and gateways throughout, no
// bystander request lost.
import fs from 'node:fs';
import t, { type Test } from 'tap';
import { asRootAndUnprivileged, hostileRun, ps, type HostileContext } from './harness.js';
import { answeringPid, functionLog, replacedAfter } from './ipc.js';

const HOSTILE = fs.readFileSync(new URL('./fixtures/channel.ts', import.meta.url), 'utf8');

/** Each attack (fixtures/channel.ts) and the reason the supervisor gives for killing the replica. */
const BAD: Record<string, RegExp> = {
  // The issue's eight bytes: a length of 4, then bytes that are not UTF-8.
  issue: /a message of 4 bytes that is not UTF-8 JSON/,
  random: /a message of \d+ bytes|an empty message/,
  length31: /a message of 2147483648 bytes \(the bound is 16384\)/,
  huge: /a message of \d{7,} bytes \(the bound is 16384\)/,
  flood: /a second 'ready' message/,
  wrongpid: /a 'failed' message whose pid is not its own pid/,
  unknown: /a message of unknown type 'replica-stuck'/,
  close: /closed its channel while running/,
};

async function attacks(t: Test, h: HostileContext): Promise<void> {
  const bystander = (await ps(h.inst)).children.find((c) => c.functionId === 1)?.pid ?? 0;
  for (const [what, reason] of Object.entries(BAD)) {
    const old = await answeringPid(h);
    const r = await h.poke({ what, victim: String(bystander) });
    t.ok([200, 502, -1].includes(r.status), `${what}: the request ends (${r.status}: the replica may be killed before it answers)`);
    t.ok(await replacedAfter(h, old), `${what}: the replica (pid ${old}) was replaced`);
    const bad = functionLog(h, old).filter((l) => l.includes('sent a bad message'));
    t.equal(bad.length, 1, `${what}: one log line: ${bad.join(' | ')}`);
    t.match(bad[0] ?? '', reason, `${what}: it names the reason`);
  }
}

asRootAndUnprivileged(t, 'whatever a handler writes to its message channel costs only its replica', (t, user) =>
  hostileRun(t, { hostile: HOSTILE, configFields: "supervisor: { maxRestarts: 20, backoffMax: '1s' }" }, (h) => attacks(t, h), user));
