// A container's descriptor channel is one way (issue 18, part 1): the supervisor shut its side for
// reading, so a handler's write to it fails and nothing is read or logged; and a container has no
// Node IPC channel at all (process.send is undefined).
import fs from 'node:fs';
import t from 'tap';
import { asRootAndUnprivileged, hostileRun } from './harness.js';
import { answeringPid, functionLog } from './ipc.js';

const HOSTILE = fs.readFileSync(new URL('./fixtures/channel.ts', import.meta.url), 'utf8');

asRootAndUnprivileged(t, 'the descriptor socket refuses writes; process.send is undefined', (t, user) =>
  hostileRun(t, { hostile: HOSTILE }, async (h) => {
    const send = await h.poke({ what: 'send' });
    t.same(JSON.parse(send.body.toString()), { what: 'send', result: { send: 'undefined', channel: 'undefined', ipcFd: null } }, 'no Node IPC channel');
    const r = await h.poke({ what: 'fdsocket' });
    t.same(JSON.parse(r.body.toString()), { what: 'fdsocket', result: 'EPIPE' }, 'the kernel refuses the write');
    for (let i = 0; i < 5; i++) t.equal((await h.poke({ what: 'send' })).status, 200, 'it keeps serving');
    const [pid] = h.before.hostilePids;
    t.equal(await answeringPid(h), pid, 'the same replica');
    t.same(functionLog(h, pid).filter((l) => l.includes('bad message')), [], 'nothing logged');
  }, user));
