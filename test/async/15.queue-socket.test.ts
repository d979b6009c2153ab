// The queue socket's gate. An unprivileged instance's containers run as the operator's user, and
// the peer checks cannot see a short-lived child that connected and exited; so the queue takes a
// connection as a gateway only once its first frame carries the control token (which Landlock keeps
// from every container). Here a process of the same user that passes every peer check, as such a
// child would, tries without the token: it can neither queue a request nor be handed runs.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { post } from '../helpers/http.js';
import { configText, project, until } from '../cli/helpers.js';
import { ACK, HELLO, PUT, encodeFrame } from '../../src/runtime/queue/wire.js';
import { findFile, talk } from './helpers.js';

const put = (id: string) => encodeFrame(PUT, 1, { id, kind: 'function', target: '1', name: 'echo', fn: 1, caller: '-', headers: [], query: '' }, Buffer.from('rogue'));

t.test('the queue socket takes a connection only with the control token', async (t) => {
  const p = await project(t, 'qsock');
  p.write('echo.ts', 'export default async function (input: Uint8Array): Promise<Uint8Array> { return input; }\n');
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'echo', handler: './echo.ts' }]", '  security: { sandbox: false },\n  async: {},\n'));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down', '--clean-shm']));
  // One accepted request through the gateway: the queue is up and a gateway is connected.
  t.equal((await post(p.port, '/async-function/echo', 'x')).status, 202);
  const sock = findFile(p.runtimeDir, 'queue.sock');
  const tokenFile = sock && path.join(path.dirname(sock), 'control.token');
  t.ok(sock && tokenFile && fs.existsSync(tokenFile), 'the queue socket and the control token are in the runtime directory');
  if (!sock || !tokenFile) return;

  const bare = await talk(t, sock, [put('00000000-0000-4000-8000-000000000001')], 10_000);
  t.ok(bare.closed, 'a PUT without HELLO: the connection is closed');
  t.same(bare.got, [], 'and nothing is acknowledged');
  const wrong = await talk(t, sock, [encodeFrame(HELLO, 0, { token: 'f'.repeat(64) }), put('00000000-0000-4000-8000-000000000002')], 10_000);
  t.ok(wrong.closed, 'a wrong token: the connection is closed');
  t.same(wrong.got, [], 'and nothing is acknowledged');

  // The same frames with the token are taken: the refusals above are the gate, not a bad frame.
  const token = fs.readFileSync(tokenFile, 'utf8').trim();
  const right = await talk(t, sock, [encodeFrame(HELLO, 0, { token }), put('00000000-0000-4000-8000-000000000003')], 3000);
  t.ok(right.got.some((f) => f.type === ACK && f.json.ok === true), 'with the token, the PUT is committed and acknowledged');

  const ls = await p.cli(['queue', 'ls', '-n', '100'], { json: true });
  t.equal(ls.code, 0, ls.stderr);
  const ids = (JSON.parse(ls.stdout) as { requests: { id: string }[] }).requests.map((r) => r.id);
  t.notOk(ids.some((id) => id.endsWith('0001') || id.endsWith('0002')), 'neither refused request is in the queue');
  t.ok(ids.includes('00000000-0000-4000-8000-000000000003'), 'the accepted one is');
  const log = findFile(p.runtimeDir, 'queue.log');
  await until(() => !!log && /refused a connection to the queue socket .*frame type 1 before HELLO/.test(fs.readFileSync(log, 'utf8')) && /a wrong token/.test(fs.readFileSync(log, 'utf8')), 10_000, 'the refusals logged');
});
