// What a user sees of flows on a real instance: `top --once --json` lists each flow with its
// steps (counts and latency) and keeps the flows' stats rows out of the functions; /metrics has
// the flow series, checked by promtool; a failing step is counted against the flow and its step.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { post, request } from '../helpers/http.js';
import { configText, project } from '../cli/helpers.js';
import { value } from '../helpers/prom.js';

const TAG = `import type { Context } from 'faasflow';
export default function (input: Uint8Array, ctx: Context) {
  if (ctx.query.get('fail') === ctx.flow?.step) { ctx.status(500); return { error: 'failed on purpose' }; }
  if (ctx.query.get('log')) ctx.log.info('step ran ' + ctx.query.get('log'));
  return Buffer.concat([input, Buffer.from('>' + ctx.flow?.step)]);
}
`;

interface FlowJson {
  name: string;
  requests: number;
  status: Record<string, number>;
  copies: number;
  latencyUs: { count: number; p50: number };
  steps: { index: number; name: string; parallel: boolean; requests: number; status: Record<string, number> }[];
}

t.test('top --once --json and /metrics show each flow and its steps', async (t) => {
  const p = await project(t, 'flowobs');
  for (const f of ['a', 'b', 'c']) p.write(`${f}.ts`, TAG);
  const fns = "[{ id: 1, name: 'a', handler: './a.ts' }, { id: 2, name: 'b', handler: './b.ts', domain: 'a' }, { id: 3, name: 'c', handler: './c.ts' }]";
  p.write('faasflow.config.ts', configText(p.port, fns, "  flows: [{ name: 'chain', steps: ['a', 'b', 'c'] }, { name: 'fan', steps: [{ parallel: ['b', 'c'] }, 'a'] }],\n"));
  t.equal((await p.cli(['up'])).code, 0);
  for (let i = 0; i < 5; i++) t.equal((await post(p.port, '/flow/chain', 'x')).body.toString(), 'x>a>b>c');
  t.equal((await post(p.port, '/flow/chain?fail=c', 'x')).status, 500);
  t.equal((await post(p.port, '/flow/fan', 'y')).status, 200);

  const logged = await post(p.port, '/flow/chain?log=mark7', 'z');
  const rid = logged.headers['x-request-id'];
  const logs = await p.cli(['logs', '-n', '200']);
  const lines = logs.stdout.split('\n').filter((l) => l.includes('step ran mark7'));
  t.equal(lines.length, 3, `each step logged once:\n${lines.join('\n')}`);
  t.ok(lines.every((l) => l.includes(`flowReq=${rid}`) || l.includes(`"flowReq":${rid}`)), `every step's line carries the flow's request id ${rid}`);
  t.same(lines.map((l) => /step[=":]+"?([abc])/.exec(l)?.[1]).sort(), ['a', 'b', 'c'], 'and its step');

  const top = await p.cli(['top', '--once', '--json']);
  const snap = JSON.parse(top.stdout) as { flows: FlowJson[]; functions: { id: number }[] };
  t.same(snap.functions.map((f) => f.id).sort(), [1, 2, 3], 'functions[] has the functions only, not the flows\' rows');
  const chain = snap.flows.find((f) => f.name === 'chain')!;
  t.equal(chain.requests, 7, 'the flow counts its requests');
  t.same(chain.status, { '2xx': 6, '4xx': 0, '5xx': 1 }, 'and their statuses');
  t.equal(chain.latencyUs.count, 7, 'with a latency for each');
  t.ok(chain.latencyUs.p50 > 0, 'a p50');
  t.equal(chain.copies, 7, 'a→b share a domain (no copy), b→c is one copy per request');
  t.same(chain.steps.map((s) => [s.index, s.name, s.requests]), [[0, 'a', 7], [1, 'b', 7], [2, 'c', 7]], 'each step\'s calls');
  t.same(chain.steps[2].status, { '2xx': 6, '4xx': 0, '5xx': 1 }, 'the failing step carries the failure');
  const fan = snap.flows.find((f) => f.name === 'fan')!;
  t.same(fan.steps.map((s) => [s.index, s.name, s.parallel]), [[0, 'b', true], [0, 'c', true], [1, 'a', false]], 'a parallel group shows each branch');
  const text = (await p.cli(['top', '--once'])).stdout;
  t.match(text, /\nFlows \(/, 'top --once text has a flows section, as its JSON has');
  t.match(text, /\n\s*flow chain\s+7\s/, `with each flow's requests: ${text}`);
  t.match(text, /\n\s*2 c \(3\)\s+7\s+\S+\s+6\/0\/1\s/, 'and each step, with its statuses');
  t.match(text, /\n\s*0 ‖ b \(2\)\s/, 'a parallel branch marked');

  const body = (await request(p.port, 'GET', '/metrics')).body.toString();
  t.equal(value(body, 'faasflow_flow_requests_total', { flow: 'chain' }), 7);
  t.equal(value(body, 'faasflow_flow_responses_total', { flow: 'chain', class: '5xx' }), 1);
  t.equal(value(body, 'faasflow_flow_duration_seconds_count', { flow: 'chain', step: '' }), 7, 'the whole flow\'s histogram');
  t.equal(value(body, 'faasflow_flow_duration_seconds_count', { flow: 'chain', step: '2.c' }), 7, 'each step\'s histogram');
  t.equal(value(body, 'faasflow_flow_copies_total', { flow: 'chain' }), 7);
  t.notOk(/faasflow_requests_total\{function="6[0-3]"/.test(body), 'no function series for the flows\' rows');
  if (spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0) {
    execFileSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    t.pass('promtool check metrics passes');
  } else t.pass('promtool check metrics', { skip: 'promtool not installed (apt-get install prometheus)' });
  const inv = await p.cli(['invoke', '--flow', 'chain', '--data', 'q']);
  t.equal(inv.stdout, 'q>a>b>c', 'faasflow invoke --flow runs the flow and prints its reply');
  const none = await p.cli(['invoke', '--flow', 'nope', '--data', 'q']);
  t.equal(none.code, 1);
  t.match(none.stderr, /flow nope answered 404 \(request \d+\): no flow named 'nope': this instance has chain, fan/, 'an unknown flow: the gateway\'s answer');
  const neither = await p.cli(['invoke', '--data', 'q']);
  t.match(neither.stderr, /name a function id \(faasflow invoke 1\) or a flow \(faasflow invoke --flow NAME\)/, 'neither an id nor --flow: a usage error');
  t.equal((await p.cli(['down'])).code, 0);
});
