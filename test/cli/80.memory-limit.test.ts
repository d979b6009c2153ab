// memoryLimit: a replica whose private memory passes the limit is replaced gracefully (the new
// one is ready before the old one drains), so a leaking function loses no request.
import t from 'tap';
import { post } from '../helpers/http.js';
import { configText, project, psChildren } from './helpers.js';

// Keeps 1 MiB per request, touched so it is resident: private memory climbs ~1 MiB a call.
const LEAK = 'const hoard: Uint8Array[] = [];\nexport default async function (): Promise<string> {\n  hoard.push(new Uint8Array(1 << 20).fill(7));\n  return String(hoard.length);\n}\n';

t.test('a leaking function over its memoryLimit is replaced without a failed request', async (t) => {
  const p = await project(t, 'mem');
  p.write('leak.ts', LEAK);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'leak', handler: './leak.ts', memoryLimit: '40MiB' }]", "  observe: { sampleInterval: '250ms' },\n"));
  t.equal((await p.cli(['up'])).code, 0);

  const statuses: number[] = [];
  const counts: number[] = [];
  const resets = () => counts.filter((c, i) => i > 0 && c < counts[i - 1]).length;
  // Requests go on until a fresh replica (its hoard starting over) has answered a few, however
  // long that takes here; 40 MiB is reached after about 40 of them. Paced so the supervisor's
  // sampler sees the memory climb rather than a jump.
  for (let after = 0; after < 10 && statuses.length < 600; after += resets() > 0 ? 1 : 0) {
    const r = await post(p.port, '/function/1', '');
    statuses.push(r.status);
    if (r.status === 200) counts.push(Number(r.body.toString()));
    await new Promise((res) => setTimeout(res, 40));
  }
  t.same([...new Set(statuses)], [200], `every request succeeded (${statuses.length} sent)`);
  t.ok(resets() >= 1, `a fresh replica took over ${resets()} time(s), within ${statuses.length} requests`);

  const replicas = (await psChildren(p)).filter((c) => c.functionId === 1);
  t.ok(replicas.some((c) => c.restarts >= 1 && c.state === 'ready'), `ps shows the restart (${JSON.stringify(replicas)})`);
  const logs = await p.cli(['logs', '--id', '1']);
  t.match(logs.stdout, /private memory \d+ B is over memoryLimit 41943040 B: replacing the replica gracefully/);
  t.equal((await p.cli(['down'])).code, 0);
});
