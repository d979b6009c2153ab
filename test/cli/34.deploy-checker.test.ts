// `deploy` asks the instance's warm type checker (a worker thread of the supervisor, control
// request "check") instead of loading the compiler itself. Type errors are refused with the same
// message either way; the request goes through the authenticated control socket; and a checker
// that dies (here: out of its heap limit, set tiny through FAASFLOW_CHECKER_HEAP_MB) costs neither
// the instance nor the deploy, which the CLI then checks itself.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { controlRequest } from '../../src/control/client.js';
import { instanceFiles } from '../../src/common/paths.js';
import type { CheckAnswer } from '../../src/common/protocol.js';
import { processAlive } from '../../src/common/procs.js';
import { ECHO, V2, configText, project, until } from './helpers.js';

const BAD = "export default async function (input: Uint8Array): Promise<number> {\n  return 'v3:' + input.length;\n}\n";
const TYPE_ERROR = /bad\.ts:2:\d+: Type 'string' is not assignable to type 'number'.*Fix it in the handler and run the command again/s;
const supervisorLog = (runtimeDir: string) => fs.readFileSync(path.join(instanceFiles(runtimeDir).logs, 'supervisor.log'), 'utf8');

/** One line sent raw to the control socket, and the first line of the answer. */
function rawRequest(socket: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let got = '';
    c.on('data', (d) => {
      got += d.toString();
      if (got.includes('\n')) {
        c.destroy();
        resolve(got.split('\n')[0]);
      }
    });
    c.on('error', reject);
    c.write(text);
  });
}

t.test('deploy checks types in the instance: errors refused as before, passes deploy', async (t) => {
  const p = await project(t, 'chk');
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'echo', handler: './echo.ts' }]"));
  p.write('echo.ts', ECHO);
  t.equal((await p.cli(['up'])).code, 0);
  const files = instanceFiles(p.runtimeDir);

  const bad = p.write('bad.ts', BAD);
  const refused = await controlRequest<CheckAnswer>(files, { cmd: 'check', sources: [bad], cwd: p.dir }, { timeoutMs: 60_000 }).then(() => undefined, (err: Error & { code?: string }) => err);
  t.equal(refused?.code, 'HANDLER', 'the warm checker finds the type error');
  t.match(refused?.message, TYPE_ERROR, 'naming file:line (relative to the asker) and the fix');

  const good = p.write('v2.ts', V2);
  const passed = await controlRequest<CheckAnswer>(files, { cmd: 'check', sources: [good], cwd: p.dir }, { timeoutMs: 60_000 });
  t.equal(passed.checked, true, 'a good handler passes');
  t.ok(passed.checked && passed.deps.some((d) => d.endsWith(path.join('dist', 'index.d.ts')) || d.includes('@types')), 'and the answer lists the files the check read');

  const odd = await controlRequest(files, { cmd: 'check', sources: ['relative.ts'], cwd: p.dir } as never).then(() => '', (err: Error) => err.message);
  t.match(odd, /check request refused: every source must be an absolute path/, 'a malformed check is refused');
  t.match(await rawRequest(files.socket, `${'0'.repeat(64)}\n${JSON.stringify({ cmd: 'check', sources: [bad], cwd: p.dir })}\n`), /refused: wrong control token/, 'without the token nothing is checked');

  const deployBad = await p.cli(['deploy', './bad.ts', '--id', '1']);
  t.equal(deployBad.code, 1, 'deploy refuses the type error');
  t.match(deployBad.stderr, TYPE_ERROR, `with the same message: ${deployBad.stderr}`);
  t.notMatch(deployBad.stdout, /checking here/, 'checked by the instance, not the CLI');
  const deployGood = await p.cli(['deploy', './v2.ts', '--id', '1']);
  t.equal(deployGood.code, 0, deployGood.stderr);
  t.notMatch(deployGood.stdout, /checking here/);
  t.equal((await p.cli(['invoke', '1', '--data', 'hi'])).stdout, 'v2:hi');
  t.notMatch(supervisorLog(p.runtimeDir), /type checker: (?!warm \()/, 'the checker never failed (its one line is "warm")');
  t.match(supervisorLog(p.runtimeDir), /type checker: warm \(1 handler\(s\) checked\)/, 'it said when it was warm');
});

t.test('a checker that dies takes neither the instance nor deploy with it', async (t) => {
  const p = await project(t, 'chkoom');
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'echo', handler: './echo.ts' }]"));
  p.write('echo.ts', ECHO);
  // 8 MiB of heap cannot hold the TypeScript compiler: the worker runs out of memory warming up.
  const env = { FAASFLOW_CHECKER_HEAP_MB: '8' };
  t.equal((await p.cli(['up'], { env })).code, 0);
  const sup = p.supervisorPid()!;
  await until(() => /type checker: it ran out of memory \(heap limit 8 MiB\)/.test(supervisorLog(p.runtimeDir)), 60_000, 'the checker to run out of memory');
  t.ok(processAlive(sup), 'the supervisor lives on');

  p.write('bad.ts', BAD);
  const deployBad = await p.cli(['deploy', './bad.ts', '--id', '1']);
  t.equal(deployBad.code, 1, 'a type error is still refused');
  t.match(deployBad.stderr, TYPE_ERROR, `with the same message: ${deployBad.stderr}`);
  t.match(deployBad.stdout, /the instance did not check it \(.*ran out of memory.*\): checking here/, 'by the CLI, saying why');

  p.write('v2.ts', V2);
  const deployGood = await p.cli(['deploy', './v2.ts', '--id', '1']);
  t.equal(deployGood.code, 0, deployGood.stderr);
  t.equal((await p.cli(['invoke', '1', '--data', 'hi'])).stdout, 'v2:hi', 'the deploy serves');
  t.ok(processAlive(sup), 'the supervisor is the same process');
  t.ok(supervisorLog(p.runtimeDir).match(/type checker: it ran out of memory/g)!.length >= 2, 'each deploy started the checker again');
  t.equal((await p.cli(['ps'])).code, 0);
});
