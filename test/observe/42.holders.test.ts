// Holders between full scans (`top`): a process that held a segment at the last scan and is still
// in /proc is not read again (a faasflow process maps its segments when it starts and unmaps them
// when it exits); one that is new since the last full scan and held nothing yet is read on every
// scan until it does; one that exits drops out at the next scan.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Holders } from '../../src/observe/holders.js';
import type { InstanceView } from '../../src/observe/instance.js';
import { requireBuiltShm } from '../shm/fixtures/helpers.js';
import { tempSegment } from '../helpers/segments.js';

const sorted = (...pids: (number | undefined)[]) => pids.map(Number).sort((x, y) => x - y);
const SHM = new URL('../../dist/shm/index.js', import.meta.url).href;

/**
 * A process that maps segment `name` read-only when told 'map' (or at once, with `now`), unmaps
 * it on 'unmap', and answers each with the same word; killed when the test ends.
 */
async function mapper(t: Test, name: string, now: boolean): Promise<ChildProcess & { say(what: string): Promise<void> }> {
  const script = `import { Segment } from ${JSON.stringify(SHM)};
    let seg;
    const map = () => { seg = Segment.open(${JSON.stringify(name)}, false); };
    process.on('message', (m) => {
      if (m === 'map') map();
      if (m === 'unmap') seg.close();
      process.send(m);
    });
    process.on('disconnect', () => process.exit(0));
    if (${now}) map();
    process.send('ready');`;
  const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, NODE_OPTIONS: '' } });
  t.teardown(() => {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  await once(c, 'message');
  return Object.assign(c, {
    async say(what: string) {
      c.send(what);
      await once(c, 'message');
    },
  });
}

t.test('between full scans: known holders are not read again, new processes are until they hold, the gone drop out', async (t) => {
  requireBuiltShm();
  const seg = tempSegment(t, { size: 8 << 20, classes: [{ size: 4096, count: 16 }] });
  const view = { segments: () => [{ name: seg.name, path: `/dev/shm${seg.name}`, memfd: false }] } as unknown as InstanceView;
  // A scan on every call; a full one only on the first (and an hour later).
  const holders = new Holders(0, 3_600_000);
  const pids = () => holders.of(seg.name).map((h) => h.pid);

  const a = await mapper(t, seg.name, true);
  holders.scanIfDue(view, 1);
  t.same(pids(), [a.pid!], 'the full scan finds the process mapping the segment (this one is left out)');
  t.equal(holders.of(seg.name)[0].writes, false, 'as a reader');

  // A unmaps: against the rule, so that whether its maps are read again shows.
  await a.say('unmap');
  const late = await mapper(t, seg.name, false);
  holders.scanIfDue(view, 2);
  t.same(pids(), [a.pid!], 'a new process that maps nothing yet is not a holder; the known holder is not read again');

  await late.say('map');
  const b = await mapper(t, seg.name, true);
  holders.scanIfDue(view, 3);
  t.same(pids(), sorted(a.pid, late.pid, b.pid), 'the new processes are read: the one that mapped since the last scan and the one that maps from the start');

  a.kill('SIGKILL');
  await once(a, 'exit');
  holders.scanIfDue(view, 4);
  t.same(pids(), sorted(late.pid, b.pid), 'a holder that exited drops out');

  await b.say('unmap');
  holders.scanIfDue(view, 3_600_005);
  t.same(pids(), [late.pid!], 'the next full scan reads every process again');
});
