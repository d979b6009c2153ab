// A container that breaks its links to the gateways is replaced, not left `ready` with nowhere to
// route. The hostile handler writes a forged frame on its own links (a Request frame, which only a
// gateway sends), or closes them: each gateway drops the link and stops routing to it at once,
// tells the supervisor, which logs it once and kills the replica; the restart policy brings a new
// one. Requests to the hostile function are then served by the new replica instead of waiting out
// their timeout, and the bystander in another domain loses nothing.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { asRootAndUnprivileged, hostileRun, ps, until, type HostileContext } from './harness.js';

const HOSTILE = fs.readFileSync(new URL('./fixtures/forger.ts', import.meta.url), 'utf8');

async function pidOf(h: HostileContext): Promise<number> {
  const r = await h.poke();
  if (r.status !== 200) throw new Error(`the hostile function did not answer (${r.status}): ${r.error ?? r.body.toString().slice(0, 200)}`);
  return (JSON.parse(r.body.toString()) as { pid: number }).pid;
}

async function breaksItsLinks(t: Test, h: HostileContext, what: 'forge' | 'close', replaced: number): Promise<number> {
  const before = await pidOf(h);
  const attack = await h.poke({ do: what });
  t.not(attack.status, 200, `its own request, on the link it broke, fails (${attack.status})`);
  // The very next request is served (it waits for the new replica), not held until its timeout.
  const next = await h.poke();
  t.equal(next.status, 200, `the next request is served: ${next.error ?? next.body.toString().slice(0, 200)}`);
  const after = next.status === 200 ? (JSON.parse(next.body.toString()) as { pid: number }).pid : -1;
  t.not(after, before, `by a new replica (pid ${before} → ${after})`);
  const row = (await ps(h.inst)).children.find((c) => c.functionId === 2);
  t.equal(row?.state, 'ready', 'ps shows the new replica ready');
  t.equal(row?.pid, after, 'under its new pid');
  const log = path.join(h.inst.runtimeDir, 'logs', 'fn-2.log');
  t.ok(await until(() => fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('BAD LINK')).length === replaced), `the supervisor logged it once (${replaced} BAD LINK line(s) so far)`);
  return after;
}

asRootAndUnprivileged(t, 'a container that forges a frame on its link, or closes it, is replaced', (t, user) =>
  hostileRun(t, { hostile: HOSTILE, hostileFields: "timeout: '15s'" }, async (h) => {
    await breaksItsLinks(t, h, 'forge', 1);
    await breaksItsLinks(t, h, 'close', 2);
    const lines = fs.readFileSync(path.join(h.inst.runtimeDir, 'logs', 'fn-2.log'), 'utf8').split('\n').filter((l) => l.includes('BAD LINK'));
    t.match(lines[0], /unexpected frame type 1/, `the forged frame is named: ${lines[0]}`);
    t.match(lines[1], /closed its link while serving/, `the closed link is named: ${lines[1]}`);
  }, user),
);
