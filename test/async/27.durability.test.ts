// async.durability. A gateway answers 202 once the request is in its journal: with 'power' (the
// default) after an fdatasync, with 'process' once written to the OS; it logs which, once, with the
// journal's file. The queue's own commits (a request handed over on its socket, as by a gateway
// without a journal or the supervisor's schedules) follow the same setting: it reads SQLite's
// synchronous pragma back on its own connection inside the first such commit and logs it (a pragma
// is a connection's own: another connection to the file would read its own default).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { post } from '../helpers/http.js';
import { configText, project, until } from '../cli/helpers.js';
import { ACK, HELLO, PUT, encodeFrame } from '../../src/runtime/queue/wire.js';
import { RECORDER, findFile, talk } from './helpers.js';

const SAID = { power: 'fdatasync before the 202 \\(async.durability power\\)', process: 'written to the OS, no fdatasync \\(async.durability process\\)' };

for (const [durability, pragma] of [['power', 2], ['process', 1], [undefined, 2]] as const) {
  t.test(`async.durability ${durability ?? '(default)'}: the journal ${pragma === 2 ? 'fdatasyncs' : 'does not fdatasync'}, the queue commits with PRAGMA synchronous = ${pragma}`, async (t) => {
    const p = await project(t, `dur${pragma}`);
    p.write('rec.ts', RECORDER);
    p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, name: 'rec', handler: './rec.ts', env: { REC_FILE: ${JSON.stringify(path.join(p.dir, 'runs.log'))} } }]`,
      `  security: { sandbox: false },\n  async: {${durability ? ` durability: '${durability}'` : ''} },\n`));
    const up = await p.cli(['up']);
    t.equal(up.code, 0, up.stderr);
    t.teardown(() => p.cli(['down', '--clean-shm']));
    const r = await post(p.port, '/async-function/rec', 'x');
    t.equal(r.status, 202);
    const said = new RegExp(`first async request journaled to (\\S+): ${SAID[durability ?? 'power']}`);
    const line = await until(() => {
      const log = findFile(p.runtimeDir, 'gateway.log');
      return log && said.exec(fs.readFileSync(log, 'utf8'));
    }, 10_000, 'the gateway to log its journal');
    t.equal(path.dirname(line?.[1] ?? ''), path.join(p.dir, 'state', 'journal'), 'the journal is in the state directory');

    // A request handed to the queue over its socket, as a gateway without a journal would.
    const sock = findFile(p.runtimeDir, 'queue.sock');
    if (!sock) return t.fail('no queue socket');
    const token = fs.readFileSync(path.join(path.dirname(sock), 'control.token'), 'utf8').trim();
    const put = encodeFrame(PUT, 1, { id: '00000000-0000-4000-8000-000000000027', kind: 'function', target: '1', name: 'rec', fn: 1, caller: '-', headers: [], query: '' }, Buffer.from('y'));
    const got = await talk(t, sock, [encodeFrame(HELLO, 0, { token, runs: false }), put], 3000);
    t.ok(got.got.some((f) => f.type === ACK && f.json.ok === true), 'the PUT is committed and acknowledged');
    const committed = await until(() => {
      const log = findFile(p.runtimeDir, 'queue.log');
      return log && /first accepted request committed with PRAGMA synchronous = (\d)/.exec(fs.readFileSync(log, 'utf8'));
    }, 10_000, 'the queue to log the pragma');
    t.equal(Number(committed?.[1]), pragma, `synchronous read back on the queue's connection is ${pragma === 2 ? 'FULL' : 'NORMAL'}`);
  });
}

t.test('a durability that is neither is a config error naming both', async (t) => {
  const p = await project(t, 'durbad');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'rec', handler: './rec.ts' }]", "  async: { durability: 'disk' },\n"));
  const up = await p.cli(['up']);
  t.not(up.code, 0);
  t.match(up.stderr, /async\.durability.*must be 'power'.*or 'process'/);
});
