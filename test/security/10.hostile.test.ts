// Hostile handler code against a victim function holding a secret in flight, on a real instance:
// run as root (each domain's containers under a uid of their own, in Landlock) and as an
// unprivileged user (Landlock and no_new_privs only). Every attack fails with what the kernel
// answered, the secret never comes back, the victim answers byte-exact before, during and after,
// and no packet is left in use.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { post } from '../helpers/http.js';
import { ROOT } from '../helpers/runtime.js';
import { othersCanRead, startInstance, testUser, type Instance, type User } from './helpers.js';

const FILES = {
  'victim.ts': fs.readFileSync(new URL('./fixtures/victim.ts', import.meta.url), 'utf8').replace("'../../../src/index.js'", "'faasflow'"),
  'attacker.ts': fs.readFileSync(new URL('./fixtures/attacker.ts', import.meta.url), 'utf8'),
};
const CONFIG = (port: number) => `export default {
  gateway: { port: ${port} },
  segment: { size: '128MiB' },
  functions: [{ id: 1, name: 'victim', handler: './victim.ts' }, { id: 2, name: 'attacker', handler: './attacker.ts' }],
};
`;

type Outcome = { code: string; leaked: boolean };

/**
 * What the kernel answers each attack with. As root the other domain's files are another user's
 * (EACCES) and signals to another user are EPERM; unprivileged, Landlock refuses the same opens
 * (EACCES), ptrace-mode access to processes outside the sandbox (EACCES) and signals (EPERM).
 * The one row the kernel cannot refuse without a uid of its own is connecting to the control
 * socket by path (Landlock has no rule for it): the supervisor refuses the sandboxed peer itself.
 */
function expected(asRoot: boolean): Record<string, string> {
  return {
    // Through the victim's descriptor of it, and the supervisor's: a domain segment (a memfd) has no path.
    'read another domain segment': 'EACCES',
    'open another domain segment for writing': 'EACCES',
    "open the supervisor's descriptors of the segments": 'EACCES',
    'read the runtime segment': 'EACCES',
    // No /dev/shm file has that name: there is nothing to map.
    'map another domain segment by name with the native module': 'ENOENT',
    'read /proc/<victim>/mem': 'EACCES',
    'read /proc/<victim>/environ': 'EACCES',
    'follow /proc/<victim>/fd/1': 'EACCES',
    'read /proc/<gateway>/environ': 'EACCES',
    'read /proc/<supervisor>/mem': 'EACCES',
    'signal the victim': 'EPERM',
    'signal the gateway': 'EPERM',
    'signal the supervisor': 'EPERM',
    'list the runtime directory': 'EACCES',
    'read the state file': 'EACCES',
    'read the config': 'EACCES',
    "read the victim's log": 'EACCES',
    'list the bundles': 'EACCES',
    'list the state directory': 'EACCES',
    'connect to the control socket': asRoot ? 'EACCES' : 'REFUSED',
    // There is no proxy socket: links are socket pairs handed over by the supervisor.
    'connect to a proxy socket': asRoot ? 'EACCES' : 'ENOENT',
  };
}

async function attackRun(t: Test, inst: Instance, asRoot: boolean): Promise<void> {
  const up = await inst.cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);
  const psOut = await inst.cli(['ps'], true);
  t.equal(psOut.code, 0, `ps: ${psOut.stderr}`);
  const ps = JSON.parse(psOut.stdout) as { supervisorPid: number; children: { role: string; functionId: number; pid: number }[] };
  const victimPid = ps.children.find((c) => c.functionId === 1)!.pid;
  const gatewayPid = ps.children.find((c) => c.role === 'gateway')!.pid;
  const top = JSON.parse((await inst.cli(['top', '--once', '--interval', '200'], true)).stdout) as { domains: { name: string; enforcement: string }[] };
  t.same(top.domains.map((d) => d.enforcement), asRoot ? ['uid+landlock', 'uid+landlock'] : ['landlock', 'landlock'], `each domain says what isolation it has: ${JSON.stringify(top.domains)}`);

  const secret = `SECRET-${randomBytes(12).toString('hex')}`;
  const before = await post(inst.port, '/function/1', secret);
  t.equal(before.body.toString(), secret, 'the victim answers byte-exact before');
  let victimDone = false;
  const during = post(inst.port, '/function/1?ms=3000', secret).then((r) => {
    victimDone = true;
    return r;
  });
  const targets = { instance: inst.name, victimDomain: 'victim', victimPid, gatewayPid, supervisorPid: ps.supervisorPid, runtimeDir: inst.runtimeDir, stateDir: inst.stateDir, packageDir: ROOT, secret };
  const attack = await post(inst.port, '/function/2', JSON.stringify(targets));
  t.notOk(victimDone, 'the attacks ran while the secret was in flight');
  t.equal(attack.status, 200, `the attacker's handler ran: ${attack.body.toString().slice(0, 200)}`);
  const outcomes = JSON.parse(attack.body.toString()) as Record<string, Outcome>;
  for (const [what, code] of Object.entries(expected(asRoot))) {
    t.equal(outcomes[what]?.code, code, `${what}: ${code}`);
    t.equal(outcomes[what]?.leaked, false, `${what}: nothing of the secret came back`);
  }
  const r = await during;
  t.equal(r.status, 200);
  t.equal(r.body.toString(), secret, 'the victim answers byte-exact during the attacks');
  const after = await post(inst.port, '/function/1', secret);
  t.equal(after.body.toString(), secret, 'and after');
  const ls = await inst.cli(['shm', 'ls'], true, false);
  const segments = JSON.parse(ls.stdout) as { instance: string | null; packetsInUse: number }[];
  t.same(segments.filter((s) => s.instance === inst.name).map((s) => s.packetsInUse), [0, 0, 0], 'no packet in use in any segment of the instance');
}

t.test('as root: each domain under a uid of its own and Landlock', { skip: process.getuid?.() === 0 ? false : 'needs root' }, async (t) => {
  const inst = await startInstance(t, CONFIG, FILES);
  await attackRun(t, inst, true);
});

const unprivileged = process.getuid?.() !== 0 ? 'needs root to create the test user' : !othersCanRead(ROOT) ? `${ROOT} is not readable by other users: an unprivileged user cannot run this checkout` : false;

t.test('as an unprivileged user: Landlock and no_new_privs', { skip: unprivileged }, async (t) => {
  const user: User = testUser();
  const inst = await startInstance(t, CONFIG, FILES, user);
  await attackRun(t, inst, false);
});
