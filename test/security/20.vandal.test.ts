// A vandal function wrecks its own domain's segment (the most hostile code can do: nothing else is
// reachable). Only its own function is affected: the other function answers byte-exact throughout,
// `top --once --json`, `shm ls` and /metrics keep working, and the supervisor notices the damage
// and rebuilds that domain alone (a fresh segment, its containers restarted), after which the
// vandal's function serves again.
import t from 'tap';
import fs from 'node:fs';
import { post, request } from '../helpers/http.js';
import { ROOT } from '../helpers/runtime.js';
import { startInstance } from './helpers.js';

const FILES = {
  'victim.ts': fs.readFileSync(new URL('./fixtures/victim.ts', import.meta.url), 'utf8').replace("'../../../src/index.js'", "'faasflow'"),
  'vandal.ts': fs.readFileSync(new URL('./fixtures/vandal.ts', import.meta.url), 'utf8'),
};
const CONFIG = (port: number) => `export default {
  gateway: { port: ${port} },
  segment: { size: '128MiB' },
  functions: [{ id: 1, name: 'victim', handler: './victim.ts' }, { id: 2, name: 'vandal', handler: './vandal.ts' }],
};
`;

interface Seg {
  name: string;
  instance: string | null;
  createdAt: string | null;
  error: string | null;
}

t.test('a vandal wrecks its own domain segment: only its function is affected, and its domain is rebuilt', async (t) => {
  const inst = await startInstance(t, CONFIG, FILES);
  t.equal((await inst.cli(['up'])).code, 0);
  const segments = async () => (JSON.parse((await inst.cli(['shm', 'ls'], true, false)).stdout) as Seg[]).filter((s) => s.name.startsWith(`/faasflow-${inst.name}`));
  const vandalSeg = `/faasflow-${inst.name}@vandal`;
  const before = (await segments()).find((s) => s.name === vandalSeg)!;
  t.ok(before.createdAt, 'the vandal domain segment is readable before');

  const victim = (body: string) => post(inst.port, '/function/1', body).then((r) => r.body.toString());
  t.equal(await victim('before'), 'before');
  const viewOnly = await post(inst.port, '/function/2', 'x'.repeat(5000));
  t.equal(viewOnly.status, 200, 'filling everything behind its input buffer harms nothing: it is only its own request');
  t.equal(await victim('after the view'), 'after the view');

  const q = new URLSearchParams({ what: 'segment', pkg: ROOT, instance: inst.name });
  const wreck = await post(inst.port, `/function/2?${q}`, 'wreck');
  t.ok(wreck.status === 200 || wreck.status >= 500, `the vandal's own request may fail (${wreck.status})`);

  // Meanwhile everyone else works: the victim, and every reader of the instance.
  for (let i = 0; i < 20; i++) t.equal(await victim(`during ${i}`), `during ${i}`, 'the victim answers byte-exact');
  const top = JSON.parse((await inst.cli(['top', '--once', '--interval', '200'], true)).stdout) as { status: string; functions: { id: number }[] };
  t.equal(top.status, 'running', 'top --once --json works');
  t.ok(top.functions.some((f) => f.id === 1), 'and shows the victim');
  t.ok((await segments()).length >= 2, 'shm ls works');
  const metrics = await request(inst.port, 'GET', '/metrics');
  t.equal(metrics.status, 200, `/metrics works: ${metrics.body.toString().slice(0, 300)}`);

  let rebuilt: Seg | undefined;
  for (let i = 0; i < 100 && !rebuilt; i++) {
    const s = (await segments()).find((x) => x.name === vandalSeg);
    if (s?.createdAt && s.createdAt !== before.createdAt && !s.error) rebuilt = s;
    else await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(rebuilt, 'the supervisor rebuilt the vandal domain with a fresh segment');
  const logs = await inst.cli(['logs', '-n', '200']);
  t.match(logs.stdout, /domain vandal: its segment .* is damaged/, 'and said why');
  t.match(logs.stdout, /domain vandal: rebuilt with a fresh segment/, 'and that it did');
  t.notMatch(logs.stdout, /domain victim: .*damaged/, 'the victim domain was never touched');
  let again = await post(inst.port, '/function/2', 'fine');
  for (let i = 0; i < 50 && again.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 200));
    again = await post(inst.port, '/function/2', 'fine');
  }
  t.equal(again.status, 200, 'the vandal function serves again');
  t.equal(await victim('after'), 'after');
});
