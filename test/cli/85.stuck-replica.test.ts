// A handler that blocks its event loop (a synchronous endless loop) cannot be stopped by its own
// timeout: the gateway answers 504 at its backstop, stops routing to that replica, and the
// supervisor kills it so the restart policy brings a fresh one. With one gateway and with two.
import t from 'tap';
import { post, request } from '../helpers/http.js';
import { configText, project, psChildren, until } from './helpers.js';

const SPIN = "export default function (input: Uint8Array): string {\n  if (new TextDecoder().decode(input) === 'spin') for (;;);\n  return 'ok';\n}\n";

t.test('a replica stuck in a synchronous loop: 504, killed, restarted, serving again', async (t) => {
  const p = await project(t, 'stuck');
  p.write('spin.ts', SPIN);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './spin.ts', timeout: '500ms' }]"));
  t.equal((await p.cli(['up'])).code, 0);
  const before = (await psChildren(p)).find((c) => c.functionId === 1)!;
  t.equal((await post(p.port, '/function/1', 'hi')).body.toString(), 'ok');

  const stuck = await post(p.port, '/function/1', 'spin');
  t.equal(stuck.status, 504, 'the gateway answers at its backstop');
  const fresh = await until(async () => (await psChildren(p)).find((c) => c.id === before.id && c.pid !== before.pid && c.state === 'ready'), 30_000, 'a fresh replica');
  t.equal(fresh?.restarts, 1, 'the replacement counts as a restart');
  t.equal((await post(p.port, '/function/1', 'hi')).body.toString(), 'ok', 'the function serves again');
  const logs = await p.cli(['logs', '--id', '1']);
  t.match(logs.stdout, /STUCK, killing it: request \d+ got no reply/);
  t.equal((await p.cli(['down'])).code, 0);
});

t.test('with two gateways: the gateway that saw it stuck has it replaced, and both route to the fresh one', async (t) => {
  const p = await project(t, 'stuck2');
  p.write('spin.ts', SPIN);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './spin.ts', timeout: '500ms' }]").replace('gateway: {', 'gateway: { workers: 2,'));
  t.equal((await p.cli(['up'])).code, 0);
  const before = (await psChildren(p)).find((c) => c.functionId === 1)!;
  const stuck = await post(p.port, '/function/1', 'spin');
  t.equal(stuck.status, 504, 'the gateway that took it answers at its backstop');
  const fresh = await until(async () => (await psChildren(p)).find((c) => c.id === before.id && c.pid !== before.pid && c.state === 'ready'), 30_000, 'a fresh replica');
  t.equal(fresh?.restarts, 1);
  // Fresh connections land on both gateways (request ids: gateway i of 2 hands out i+1, i+3, …).
  const served = new Set<number>();
  for (let i = 0; i < 40 && served.size < 2; i++) {
    const r = await request(p.port, 'POST', '/function/1', 'hi', {}, { agent: false });
    t.equal(r.body.toString(), 'ok');
    served.add(Number(r.headers['x-request-id']) % 2);
  }
  t.equal(served.size, 2, 'both gateways route to the fresh replica');
  t.equal((await p.cli(['down'])).code, 0);
});
