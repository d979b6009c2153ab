// The control socket fails closed. A hostile handler reaches it by path (Landlock has no rule for
// connecting to a Unix socket; as root the file is another user's) and tries to deploy its own
// bundle as function 1, the bystander in another domain: from the handler itself, from a child
// that connects, writes a deploy and exits at once (issue 18's attack), and on connections a child
// made and handed over before exiting, so the peer is gone before the supervisor looks at it
// (the test stops the supervisor meanwhile: nothing in /proc says who connected). On those: no
// token, an empty one, a guessed one, a 16 MiB line, and silence. Each is refused (as root the
// connect itself fails), nothing is deployed, the CLI as the instance's user keeps working, and an
// authenticated deploy that names a bundle outside the instance's bundles directory is refused.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { controlRequest } from '../../src/control/client.js';
import { instancePaths } from '../../src/common/paths.js';
import { stateFiles } from '../../src/common/state-dir.js';
import { asRootAndUnprivileged, hostileRun, ps, until, type HostileContext } from './harness.js';

const HOSTILE = fs.readFileSync(new URL('./fixtures/controller.ts', import.meta.url), 'utf8');

type Outcome = { code: string; reply: string; ms: number };

interface Snapshot {
  functions: string;
  deployments: string | null;
}

async function snapshot(h: HostileContext): Promise<Snapshot> {
  const r = await h.inst.cli(['ps'], true);
  const s = JSON.parse(r.stdout) as { functions: { id: number; name: string; deployment: number; bundle: string }[]; children: { functionId: number; deployment: number; role: string }[] };
  const fns = s.functions.map((f) => `${f.id}:${f.name}:d${f.deployment}:${path.basename(f.bundle)}`).sort();
  const containers = s.children.filter((c) => c.role === 'container').map((c) => `${c.functionId}.d${c.deployment}`).sort();
  const file = stateFiles(h.inst.stateDir).deployments;
  return { functions: JSON.stringify({ fns, containers }), deployments: fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null };
}

async function attack(h: HostileContext, query: Record<string, string>): Promise<Record<string, unknown>> {
  const r = await h.poke({ ...query, runtimeDir: h.inst.runtimeDir });
  if (r.status !== 200) throw new Error(`the hostile handler failed (${r.status}): ${r.error ?? r.body.toString().slice(0, 300)}`);
  return JSON.parse(r.body.toString()) as Record<string, unknown>;
}

/** Runs `fn` with the supervisor stopped: connections made meanwhile wait in its accept queue. */
async function supervisorStopped<T>(pid: number, fn: () => Promise<T>): Promise<T> {
  process.kill(pid, 'SIGSTOP');
  try {
    return await fn();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

const refusals = (h: HostileContext) => {
  try {
    return fs.readFileSync(path.join(h.inst.runtimeDir, 'logs', 'supervisor.log'), 'utf8').split('\n').filter((l) => l.includes('control socket: refused'));
  } catch {
    return [];
  }
};

async function attacks(t: Test, h: HostileContext): Promise<void> {
  const asRoot = h.user === undefined;
  const before = await snapshot(h);
  const same = async (what: string) => t.same(await snapshot(h), before, `${what}: nothing was deployed (ps and deployments.json unchanged)`);
  const sup = h.before.supervisorPid;

  const direct = (await attack(h, { phase: 'direct' })) as unknown as Outcome;
  t.equal(direct.code, asRoot ? 'EACCES' : 'REFUSED', `from the handler itself: ${direct.code} ${direct.reply}`);
  await same('a deploy from the handler itself');

  // The issue's attack: connect, write a deploy, exit at once (while the supervisor cannot look).
  const fired = await supervisorStopped(sup, () => attack(h, { phase: 'connect', n: '4', fire: '1' }));
  t.same(fired.codes, asRoot ? ['EACCES', 'EACCES', 'EACCES', 'EACCES'] : [], `a child that wrote a deploy and exited: ${JSON.stringify(fired.codes)}`);
  if (!asRoot) t.ok(await until(() => refusals(h).some((l) => l.includes('wrong control token')), 50), 'the supervisor read those deploys as a wrong token and refused them');
  await same('deploys written by a child that exited at once');

  for (const mode of ['deploy', 'empty', 'guess', 'huge']) {
    const got = await supervisorStopped(sup, () => attack(h, { phase: 'connect', n: '3' }));
    t.equal(got.held, asRoot ? 0 : 3, `connections handed over by a child that exited (${JSON.stringify(got.codes)})`);
    const { outcomes } = (await attack(h, { phase: 'send', mode })) as { outcomes: Outcome[] };
    const ok = (o: Outcome) => o.code === 'REFUSED' || (mode === 'huge' && o.code === 'CUT');
    t.ok(outcomes.every(ok), `${mode}: each refused: ${JSON.stringify(outcomes.map((o) => `${o.code} ${o.reply.trim()}`))}`);
    await same(`${mode} on a connection whose peer is gone`);
  }

  // Silent connections, more than the supervisor holds unauthenticated: it lets go of each, and
  // meanwhile the CLI as the instance's user works.
  const held = await supervisorStopped(sup, () => attack(h, { phase: 'connect', n: '24' }));
  t.equal(held.held, asRoot ? 0 : 24, 'silent connections are open');
  const silent = attack(h, { phase: 'send', mode: 'silent', wait: '20000' }) as Promise<{ outcomes: Outcome[] }>;
  const cli = await h.inst.cli(['ps'], true);
  t.equal(cli.code, 0, `ps works while they are held: ${cli.stderr}`);
  const { outcomes } = await silent;
  t.ok(outcomes.every((o) => o.code === 'REFUSED'), `each silent connection is let go with a refusal: ${JSON.stringify([...new Set(outcomes.map((o) => o.reply.trim()))])}`);
  await same('silent connections');

  const lines = refusals(h);
  if (!asRoot) t.ok(lines.length >= 1 && lines.length <= 20, `refusals are logged once per offender, rate-limited: ${lines.length} line(s)`);
  t.equal((await ps(h.inst)).supervisorPid, sup, 'the supervisor is the same process');
}

/** An authenticated client (the test, as root: root may control any instance) naming bundles outside bundles/. */
async function bundlePaths(t: Test, h: HostileContext): Promise<void> {
  const before = await snapshot(h);
  // The instance's state directory is its own (FAASFLOW_STATE_DIR), not this process's default.
  const p = { ...instancePaths(h.inst.name, h.inst.runtimeDir), ...stateFiles(h.inst.stateDir) };
  const outside = path.join(h.inst.dir, 'evil.mjs');
  fs.writeFileSync(outside, "export default async function () { return 'owned'; }\n");
  const link = path.join(p.bundles, 'evil-link.mjs');
  fs.symlinkSync(outside, link);
  t.teardown(() => fs.rmSync(link, { force: true }));
  for (const bundle of [outside, `${p.bundles}/../../evil.mjs`, link]) {
    const err = await controlRequest(p, { cmd: 'deploy', fn: { id: 1, source: outside, bundle } }, { timeoutMs: 30_000 }).then(() => undefined, (e: Error) => e);
    t.match(err?.message ?? 'deployed', /deploy request refused: bundle/, `a bundle at ${bundle} is refused: ${err?.message}`);
  }
  t.same(await snapshot(h), before, 'nothing was deployed');
}

asRootAndUnprivileged(t, 'hostile clients of the control socket are refused and deploy nothing', (t, user) =>
  hostileRun(t, { hostile: HOSTILE, hostileFields: "timeout: '60s'" }, async (h) => {
    await attacks(t, h);
    await bundlePaths(t, h);
  }, user),
);
