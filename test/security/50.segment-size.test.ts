// Issue 18, the segment file: a handler holds its domain segment's descriptor (a sealed memfd) and
// tries every way to change the segment's size, or to fill /dev/shm, next to a bystander in another
// domain under a steady request loop, as root and unprivileged. The kernel refuses each (the
// seals: EPERM; /dev/shm is outside the sandbox: EACCES), so no mapping of a trusted process can
// fault: the supervisor and the gateway are the same processes, the bystander lost no request, no
// segment changed size, and `down` leaves nothing (harness.ts checks all of that after each).
import t, { type Test } from 'tap';
import fs from 'node:fs';
import { asRootAndUnprivileged, hostileRun, ps, segmentSizes } from './harness.js';

const RESIZER = fs.readFileSync(new URL('./fixtures/resizer.ts', import.meta.url), 'utf8');

interface Answer {
  link: string;
  sizeBefore: number;
  sizeAfter: number;
  memfds: string[];
  result?: unknown;
  reopened?: Record<string, string>;
  peers?: Record<string, string>;
}

const denied = (code: unknown) => code === 'EACCES' || code === 'EPERM';

interface Variant {
  how: string;
  what: string;
  check(t: Test, a: Answer): void;
}

const VARIANTS: Variant[] = [
  { how: 'shrink', what: 'ftruncate its segment to 4 KiB', check: (t, a) => t.equal(a.result, 'EPERM', 'ftruncate smaller: EPERM (F_SEAL_SHRINK)') },
  { how: 'grow', what: 'ftruncate its segment larger', check: (t, a) => t.equal(a.result, 'EPERM', 'ftruncate larger: EPERM (F_SEAL_GROW)') },
  {
    how: 'fallocate',
    what: 'fallocate beyond the end of its segment',
    check: (t, a) => (String(a.result).startsWith('python3:') ? t.comment(`no python3 to call fallocate with: ${String(a.result)}`) : t.equal(a.result, 'EPERM', 'fallocate past the end: EPERM (F_SEAL_GROW)')),
  },
  { how: 'write', what: 'write() past the end of its segment', check: (t, a) => t.equal(a.result, 'EPERM', 'the first write past the end: EPERM, nothing written') },
  {
    how: 'reopen',
    what: 'reopen its segment through /proc/self/fd, and the trusted processes\' descriptors, and truncate them',
    check: (t, a) => {
      if (a.result === 'OK') t.same(a.reopened, { shrink: 'EPERM', grow: 'EPERM', write: 'EPERM' }, 'reopened, it is the same sealed file: EPERM for each');
      else t.ok(denied(a.result), `reopening /proc/self/fd is refused: ${String(a.result)}`);
      const peers = Object.entries(a.peers ?? {});
      t.ok(peers.filter(([k]) => k.startsWith('list ')).length >= 2, `it looked at the supervisor and the gateway: ${JSON.stringify(a.peers)}`);
      // Listing the numbers is allowed to the same user (unprivileged); where they lead is not.
      t.same(peers.filter(([k, code]) => !k.startsWith('list ') && !denied(code)), [], 'where their descriptors lead cannot be read, so none can be opened');
    },
  },
  {
    how: 'fill',
    what: 'create files in /dev/shm to fill it',
    check: (t, a) => {
      const results = Object.entries(a.result as Record<string, string>);
      t.same(results.filter(([, code]) => !denied(code)), [], `no file can be created in /dev/shm: ${JSON.stringify(a.result)}`);
    },
  },
];

// One instance per user for all the attacks (each instance takes ~25 s to start here, and a test
// file has 180 s): each attack is its own request, and after each the supervisor and the gateway
// must be the same processes and every segment its size; the harness checks the rest at the end.
asRootAndUnprivileged(t, 'a handler tries every way to change its segment\'s size or fill /dev/shm', async (t, user) => {
  t.teardown(() => {
    // Were the sandbox to let it create files, they go with the test.
    for (const f of fs.readdirSync('/dev/shm').filter((n) => /^(faasflow-)?fill-\d+$/.test(n))) fs.rmSync(`/dev/shm/${f}`, { force: true });
  });
  await hostileRun(t, { hostile: RESIZER }, async (h) => {
    const name = `/faasflow-${h.inst.name}@hostile`;
    const size = h.before.segments.get(name);
    t.ok(size, `the hostile function's segment ${name} is listed`);
    for (const v of VARIANTS) {
      await t.test(`it tries to ${v.what}`, async (t) => {
        const r = await h.poke({ how: v.how, peers: [h.before.supervisorPid, ...h.before.gatewayPids].join(',') });
        t.equal(r.status, 200, `the handler answered: ${r.error ?? r.body.toString().slice(0, 300)}`);
        const a = JSON.parse(r.body.toString()) as Answer;
        t.comment(JSON.stringify(a));
        t.equal(a.link, `/memfd:${name.slice(1)} (deleted)`, 'it holds its segment\'s memfd');
        t.same(a.memfds, [a.link], 'and no other memfd: nothing of another domain');
        t.equal(a.sizeBefore, size);
        t.equal(a.sizeAfter, size, 'the size it sees afterwards is unchanged');
        v.check(t, a);
        const now = await ps(h.inst);
        t.equal(now.supervisorPid, h.before.supervisorPid, 'the supervisor is the same process');
        t.same(now.children.filter((c) => c.role === 'gateway').map((c) => c.pid).sort(), h.before.gatewayPids, 'the gateway is the same process');
        t.same(await segmentSizes(h.inst), h.before.segments, 'every segment kept its size');
      });
    }
  }, user);
});
