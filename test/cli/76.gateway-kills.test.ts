// A gateway's death is never its replicas' fault: gateways SIGKILLed under load, more times in all
// than supervisor.maxRestarts, leave every container as it was: the same process, no restart, no
// crash or bad link in its function's log, nothing given up; every function serves afterwards.
// (Each gateway is killed within its own limit: a gateway past it is a crash loop of the gateway.)
import t from 'tap';
import { ECHO, UPPER, configText, project, psChildren, until } from './helpers.js';
import { processAlive } from '../../src/common/procs.js';
import { postFresh } from '../helpers/http.js';

const MAX_RESTARTS = 2;
const KILLS = 2 * MAX_RESTARTS;

t.test(`${KILLS} gateway kills under load (maxRestarts ${MAX_RESTARTS}): no replica restarted, crashed or given up`, async (t) => {
  const p = await project(t, 'gwk');
  p.write('echo.ts', ECHO);
  p.write('upper.ts', UPPER);
  const fns = "[{ id: 1, handler: './echo.ts', replicas: 2 }, { id: 2, name: 'upper', handler: './upper.ts' }]";
  p.write('faasflow.config.ts', configText(p.port, fns, `  supervisor: { maxRestarts: ${MAX_RESTARTS}, period: '10m', backoffMin: '100ms' },\n`).replace('gateway: {', 'gateway: { workers: 2,'));
  t.equal((await p.cli(['up'])).code, 0);
  const before = (await psChildren(p)).filter((c) => c.role === 'container');
  t.equal(before.length, 3, 'three replicas');

  let stop = false;
  const sent: { status: number }[] = [];
  const load = Promise.all(Array.from({ length: 4 }, async (_, i) => {
    for (let n = 0; !stop; n++) sent.push(await postFresh(p.port, `/function/${1 + (i % 2)}`, `w${i}n${n}`));
  }));
  t.teardown(() => { stop = true; });
  for (let k = 0; k < KILLS; k++) {
    const gateways = (await psChildren(p)).filter((c) => c.role === 'gateway').sort((a, b) => a.id.localeCompare(b.id));
    const victim = gateways[k % 2];
    const at = sent.length;
    await until(() => sent.length > at + 20, 30_000, 'requests before the kill');
    process.kill(victim.pid, 'SIGKILL');
    await until(() => !processAlive(victim.pid), 10_000, 'the killed gateway to exit');
    await until(async () => (await psChildren(p)).filter((c) => c.role === 'gateway' && c.state === 'ready' && c.pid !== victim.pid).length === 2, 30_000, `gateway ${victim.id} to be restarted (kill ${k + 1})`);
  }
  const atEnd = sent.length;
  await until(() => sent.length > atEnd + 50, 30_000, 'requests after the last restart');
  stop = true;
  await load;

  const now = await psChildren(p);
  t.same(now.filter((c) => c.role === 'gateway').map((c) => [c.state, c.restarts]), [['ready', MAX_RESTARTS], ['ready', MAX_RESTARTS]], `each gateway was restarted ${MAX_RESTARTS} times (${KILLS} kills in all)`);
  const after = now.filter((c) => c.role === 'container');
  t.same(after.map((c) => [c.id, c.pid, c.state, c.restarts]).sort(), before.map((c) => [c.id, c.pid, 'ready', 0]).sort(), 'every replica is the process it was, ready, with no restart');
  for (const id of [1, 2]) {
    const logs = (await p.cli(['logs', '--id', String(id), '-n', '500'])).stdout;
    t.notMatch(logs, /GIVING UP|crash|restart \d|BAD LINK|STUCK|killed|exited/, `function ${id}'s log charges its replicas with nothing`);
  }
  t.ok(sent.filter((r) => r.status === 200).length > KILLS * 20, `requests were served throughout (${sent.filter((r) => r.status === 200).length} of ${sent.length})`);
  for (let i = 0; i < 20; i++) {
    t.equal((await postFresh(p.port, '/function/1', `e${i}`)).body, `e${i}`);
    t.equal((await postFresh(p.port, '/function/2', `u${i}`)).body, `U${i}`);
  }
  t.equal((await p.cli(['down'])).code, 0);
});
