// Flows on a real instance (`faasflow up`, supervisor, sandbox): kill -9 of the container of a
// mid-chain step under flow load fails only the flow requests that step had in flight, each with
// 502 naming the step; the supervisor restarts it and reclaims its packets, every domain's pool
// goes back to 0 in use. A redeploy of a step's function under flow load fails no flow request,
// and says which flows now call the new function.
import t from 'tap';
import { Segment, domainSegmentName } from '../../src/shm/index.js';
import { post } from '../helpers/http.js';
import { configText, project, psChildren, until } from '../cli/helpers.js';

// Appends ">step" in an output packet of its own, after a short wait: at any moment the middle
// step's container holds packets and has requests in flight.
const TAG = (wait: number, mark = '') => `import type { Context } from 'faasflow';
export default async function (input: Uint8Array, ctx: Context) {
  const tag = Buffer.from('>' + (ctx.flow?.step ?? '?') + '${mark}');
  const out = ctx.output(input.length + tag.length);
  out.bytes.set(input);
  out.bytes.set(tag, input.length);
  await new Promise((r) => setTimeout(r, ${wait}));
  return out.end(input.length + tag.length);
}
`;

const FUNCTIONS = "[{ id: 1, name: 'first', handler: './first.ts' }, { id: 2, name: 'middle', handler: './middle.ts', replicas: 1 }, { id: 3, name: 'last', handler: './last.ts' }]";
const FLOWS = "  flows: [{ name: 'chain', steps: ['first', 'middle', 'last'] }],\n";

type Tally = Map<string, number>;
/** Runs `workers` loops of POST /flow/chain until stopped; tallies status (and the failing step). */
function load(port: number, workers: number, check: (body: string) => boolean) {
  const tally: Tally = new Map();
  let running = true;
  const body = Buffer.alloc(8 << 10, 7);
  const expect = (b: Buffer) => b.subarray(0, body.length).equals(body) && check(b.subarray(body.length).toString());
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const r = await post(port, '/flow/chain', body).catch(() => ({ status: 0, body: Buffer.alloc(0), headers: {} }));
      let key = String(r.status);
      if (r.status === 200 && !expect(r.body)) key = 'wrong-body';
      if (r.status >= 400) key += `:${(JSON.parse(r.body.toString() || '{}') as { step?: string }).step ?? '?'}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
  });
  return { tally, stop: async () => ((running = false), await Promise.all(loops)) };
}

const inUse = (instance: string) => ['first', 'middle', 'last'].reduce((n, d) => {
  const seg = Segment.open(domainSegmentName(instance, d), false);
  try {
    return n + seg.pool.inUse();
  } finally {
    seg.close();
  }
}, 0);

t.test('kill -9 of a mid-chain container under flow load: only its in-flight flows fail, naming it', async (t) => {
  const p = await project(t, 'flowkill');
  p.write('first.ts', TAG(0));
  p.write('middle.ts', TAG(10));
  p.write('last.ts', TAG(0));
  p.write('faasflow.config.ts', configText(p.port, FUNCTIONS, FLOWS));
  t.equal((await p.cli(['up'])).code, 0);
  const victim = (await psChildren(p)).find((c) => c.functionId === 2)!;
  const l = load(p.port, 8, (tail) => tail === '>first>middle>last');
  await until(() => [...l.tally.values()].reduce((a, b) => a + b, 0) > 50, 20_000, 'flow load to be running');
  process.kill(victim.pid, 'SIGKILL');
  await until(async () => (await psChildren(p)).find((c) => c.id === victim.id && c.pid !== victim.pid && c.state === 'ready'), 30_000, 'the middle step to be restarted');
  const at = l.tally.get('200') ?? 0;
  await until(() => (l.tally.get('200') ?? 0) > at + 100, 20_000, 'flows to succeed again');
  await l.stop();
  const failed = [...l.tally.entries()].filter(([k]) => k !== '200');
  t.ok((l.tally.get('200') ?? 0) > 150, `flows kept succeeding: ${JSON.stringify([...l.tally])}`);
  t.ok(failed.every(([k, n]) => k === '502:middle' && n <= 8), `only flows in flight at the killed step failed, each 502 naming it: ${JSON.stringify(failed)}`);
  await until(() => inUse(p.instance) === 0, 10_000, 'every packet freed or reclaimed');
  t.pass('every domain pool is back to 0 in use');
  t.equal((await p.cli(['down'])).code, 0);
});

t.test('redeploying a step under flow load fails no flow request', async (t) => {
  const p = await project(t, 'flowdeploy');
  p.write('first.ts', TAG(0));
  p.write('middle.ts', TAG(2));
  p.write('middle2.ts', TAG(2, '2'));
  p.write('last.ts', TAG(0));
  p.write('faasflow.config.ts', configText(p.port, FUNCTIONS, FLOWS));
  t.equal((await p.cli(['up'])).code, 0);
  const l = load(p.port, 8, (tail) => tail === '>first>middle>last' || tail === '>first>middle2>last');
  await until(() => [...l.tally.values()].reduce((a, b) => a + b, 0) > 50, 20_000, 'flow load to be running');
  const dep = await p.cli(['deploy', './middle2.ts', '--id', '2']);
  t.equal(dep.code, 0, `deploy succeeded: ${dep.stderr}`);
  t.match(dep.stderr.replace(/\s+/g, ' '), /function 2 was middle \(.*middle\.ts\); it is replaced, and flow\(s\) chain now call middle2 in its place/, 'the deploy says it replaced another function that a flow calls');
  const before = l.tally.get('200') ?? 0;
  await until(() => (l.tally.get('200') ?? 0) > before + 100, 20_000, 'flows after the deploy');
  await l.stop();
  t.same([...l.tally.keys()], ['200'], `every flow request answered 200 with the right body: ${JSON.stringify([...l.tally])}`);
  t.equal((await post(p.port, '/flow/chain', 'x')).body.toString(), 'x>first>middle2>last', 'the new version of the middle step serves');
  const clash = await p.cli(['deploy', './middle2.ts', '--id', '62']);
  t.equal(clash.code, 1, 'a deploy into the rows the flows count in is refused');
  t.match(clash.stderr + clash.stdout, /function id 62 is in the stats rows the config's flows use \(60\.\.63\)/, 'saying which rows and what to do');
  t.equal((await p.cli(['down'])).code, 0);
});
