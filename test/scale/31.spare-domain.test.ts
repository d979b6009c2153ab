// A spare is of its domain: on a real instance run as root (a uid per domain, Landlock), two
// elastic functions in two domains each keep a spare; a hostile handler adopted from domain A's
// spare runs as A's user, with A's segment, temporary and secrets directories, and reaches nothing
// of domain B: not B's segment (through B's process's descriptor), not B's secret (by path or by
// ctx.secret), not the file B's handler wrote in its temporary directory, not B's process. Run by
// an unprivileged user (made with useradd), every domain runs as that one user and Landlock alone
// refuses the same things, with the same answers.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { post } from '../helpers/http.js';
import { until } from '../cli/helpers.js';
import { ROOT } from '../helpers/runtime.js';
import { othersCanRead, startInstance, testUser, type Instance, type User } from '../security/helpers.js';

/** Domain B: holds a secret and writes a file of its own; answers where they are and who it is. */
const KEEPER = `import fs from 'node:fs';
import path from 'node:path';
export default function keeper(_input: Uint8Array, ctx: { secret(name: string): string }) {
  const value = ctx.secret('db-password');
  fs.writeFileSync(path.join(process.env.TMPDIR ?? '/nonexistent', 'b-file'), value);
  return { pid: process.pid, uid: process.getuid?.(), secrets: process.env.FAASFLOW_SECRETS_DIR, tmp: process.env.TMPDIR, value };
}
`;

/** Domain A: hostile. Tries B's segment, secret, files and process; answers what the kernel said, and who it is. */
const SPY = `import fs from 'node:fs';
import path from 'node:path';
function attempt(fn: () => unknown): string {
  try {
    fn();
    return 'OK';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}
export default function spy(input: Uint8Array, ctx: { secret(name: string): string }) {
  const b = JSON.parse(new TextDecoder().decode(input)) as { pid: number; secrets: string; tmp: string };
  return {
    me: { pid: process.pid, uid: process.getuid?.(), segment: process.env.FAASFLOW_SEGMENT, tmp: process.env.TMPDIR, secrets: process.env.FAASFLOW_SECRETS_DIR },
    tried: {
      "read B's segment": attempt(() => fs.readFileSync('/proc/' + b.pid + '/fd/4')),
      "open B's segment for writing": attempt(() => fs.openSync('/proc/' + b.pid + '/fd/4', 'r+')),
      "read B's secret": attempt(() => fs.readFileSync(path.join(b.secrets, 'db-password'))),
      "list B's secrets": attempt(() => fs.readdirSync(b.secrets)),
      "ctx.secret of B's": attempt(() => ctx.secret('db-password')) === 'OK' ? 'LEAKED' : 'refused',
      "read B's file": attempt(() => fs.readFileSync(path.join(b.tmp, 'b-file'))),
      "list B's temporary directory": attempt(() => fs.readdirSync(b.tmp)),
      'signal B': attempt(() => process.kill(b.pid, 'SIGKILL')),
    },
  };
}
`;

const CONFIG = (port: number) => `export default {
  gateway: { port: ${port} },
  segment: { size: '64MiB' },
  functions: [
    { id: 1, name: 'keeper', domain: 'b', handler: './keeper.ts', secrets: ['db-password'], scale: { min: 0, max: 1 } },
    { id: 2, name: 'spy', domain: 'a', handler: './spy.ts', scale: { min: 0, max: 1 } },
  ],
};
`;

interface Ps {
  children: { pid: number; spare?: boolean; domain?: string }[];
  spares?: { domain: string; warm: number }[];
}

const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

async function sparesByDomain(inst: Instance): Promise<Map<string, number>> {
  const ps = JSON.parse((await inst.cli(['ps'], true)).stdout) as Ps;
  return new Map(ps.children.filter((c) => c.spare).map((c) => [c.domain ?? '', c.pid]));
}

/** Run as root (`user` undefined: a uid per domain) or as `user` (one uid for every domain). */
async function isolation(t: Test, user?: User): Promise<void> {
  const inst = await startInstance(t, CONFIG, { 'keeper.ts': KEEPER, 'spy.ts': SPY }, user);
  const value = `pw-${randomBytes(12).toString('hex')}`;
  const file = path.join(inst.dir, 'pw.txt');
  fs.writeFileSync(file, value, { mode: 0o600 });
  if (user) fs.chownSync(file, user.uid, user.gid);
  t.equal((await inst.cli(['secret', 'create', 'db-password', '--from-file', file])).code, 0, 'secret create');
  fs.rmSync(file);
  const up = await inst.cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);

  const spares = (await until(async () => {
    const ps = JSON.parse((await inst.cli(['ps'], true)).stdout) as Ps;
    const warm = new Map((ps.spares ?? []).map((s) => [s.domain, s.warm]));
    return warm.get('a') === 1 && warm.get('b') === 1 ? sparesByDomain(inst) : undefined;
  }, 20_000, 'a warm spare in each domain'))!;
  const [spareA, spareB] = [spares.get('a')!, spares.get('b')!];
  if (user) t.same([uidOf(spareA), uidOf(spareB)], [user.uid, user.uid], 'both domains\' spares run as the user who ran `up`');
  else t.not(uidOf(spareA), uidOf(spareB), 'the two domains\' spares run as two users');
  t.not(uidOf(spareA), 0, 'neither as root');

  const keeper = JSON.parse((await post(inst.port, '/function/1', '')).body.toString()) as { pid: number; uid: number; secrets: string; tmp: string; value: string };
  t.equal(keeper.value, value, 'B reads its secret');
  t.equal(keeper.pid, spareB, 'B\'s first request is served by B\'s spare');

  const res = await post(inst.port, '/function/2', JSON.stringify(keeper));
  t.equal(res.status, 200, res.body.toString());
  const spy = JSON.parse(res.body.toString()) as { me: { pid: number; uid: number; segment: string; tmp: string; secrets: string }; tried: Record<string, string> };
  t.equal(spy.me.pid, spareA, 'the hostile handler runs in A\'s former spare, not B\'s');
  t.equal(spy.me.uid, uidOf(spareA), 'as A\'s user');
  if (!user) t.not(spy.me.uid, keeper.uid, 'not B\'s');
  t.match(spy.me.segment, /@a$/, 'with A\'s segment');
  t.not(spy.me.tmp, keeper.tmp, 'A\'s temporary directory');
  t.not(spy.me.secrets, keeper.secrets, 'A\'s secrets directory');
  t.same(spy.tried, {
    "read B's segment": 'EACCES',
    "open B's segment for writing": 'EACCES',
    "read B's secret": 'EACCES',
    "list B's secrets": 'EACCES',
    "ctx.secret of B's": 'refused',
    "read B's file": 'EACCES',
    "list B's temporary directory": 'EACCES',
    'signal B': 'EPERM',
  }, 'every way to B is refused');
  t.notOk(res.body.toString().includes(value), 'B\'s secret never comes back');

  const refilled = (await until(async () => {
    const now = await sparesByDomain(inst);
    return now.has('a') && now.get('a') !== spareA ? now : undefined;
  }, 20_000, 'domain A\'s pool to refill'))!;
  t.equal(uidOf(refilled.get('a')!), uidOf(spareA), 'A\'s new spare runs as A\'s user too');
}

t.test('as root: a hostile handler adopted from a spare of domain A reaches nothing of domain B', { skip: process.getuid?.() !== 0 ? 'needs root: a uid per domain' : false }, (t) => isolation(t));

const unprivileged = process.getuid?.() !== 0 ? 'needs root to create the test user' : !othersCanRead(ROOT) ? `${ROOT} is not readable by other users: an unprivileged user cannot run this checkout` : false;

t.test('as an unprivileged user: the same handler, Landlock alone, reaches nothing of domain B', { skip: unprivileged }, (t) => isolation(t, testUser()));
