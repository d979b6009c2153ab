// A container that crashes on start: restarted with growing backoff, given up after the
// crash-loop limit (loudly: ps, logs, up's warning), while the other functions keep serving.
import t from 'tap';
import { ECHO, configText, loadsFor, project, psChildren } from './helpers.js';
import { request } from '../helpers/http.js';

const BROKEN = "throw new Error('cannot start: model file missing');\nexport default async function (): Promise<string> {\n  return 'never';\n}\n";

t.test('a crash-looping container is given up on; the rest serves', async (t) => {
  const p = await project(t, 'loop');
  p.write('echo.ts', ECHO);
  p.write('broken.ts', BROKEN);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }, { id: 2, name: 'broken', handler: './broken.ts', timeout: '2s' }]", "  supervisor: { maxRestarts: 2, period: '60s', backoffMin: '300ms' },\n"));

  const up = await p.cli(['up']);
  t.equal(up.code, 0, 'the instance runs: one failed function does not stop the others');
  t.match(up.stdout, /fn2\.d\d\.r0: exited with code 1; restart 1\/2 in \d+ ms[\s\S]*restart 2\/2/, 'up shows the restarts while they happen');
  t.match(up.stderr, /1 of 2 failed: fn2\.d\d\.r0 \(.*crash loop: 2 restarts within 60 s \(limit 2\), giving up; last error: .*cannot start: model file missing\)/);

  t.equal((await p.cli(['invoke', '1', '--data', 'fine'])).stdout, 'fine', 'function 1 serves');
  t.match(up.stderr, /GET \/healthz: 503, not ready: 1 of 2 function\(s\) have no ready replica: 2 \(broken\): given up: every replica of function 2 \(broken\) crashed repeatedly/, "up's health step says what is not ready, and returns");
  const health = await request(p.port, 'GET', '/healthz');
  t.equal(health.status, 503, 'the instance is not ready: one of its functions cannot serve');
  t.match(JSON.parse(health.body.toString()), { status: 'not ready', notReady: [{ id: 2, name: 'broken', reason: /^given up: .*crashed repeatedly/ }] });
  t.equal((await request(p.port, 'GET', '/livez')).status, 200, 'but it is alive');

  const ps = await p.cli(['ps'], { json: true });
  const broken = (JSON.parse(ps.stdout) as { children: { functionId: number; state: string; restarts: number; lastExit: string }[] }).children.find((c) => c.functionId === 2);
  t.equal(broken?.state, 'failed');
  t.equal(broken?.restarts, 2);
  t.match(broken?.lastExit, /crash loop/);
  const table = await p.cli(['ps']);
  t.match(table.stdout, /container\s+2 broken\s+\S+\s+-\s+failed\s+-\s+2/);
  t.match(table.stdout, /FAILED: .*crash loop.* see `faasflow logs --id 2`/);

  const logs = await p.cli(['logs', '--id', '2']);
  t.match(logs.stdout, /cannot start: model file missing/, "the child's own error is in its log");
  t.match(logs.stdout, /GIVING UP: .*crash loop/);
  const starts = logs.stdout.split('\n').filter((l) => / started \(container/.test(l));
  t.equal(starts.length, 3, 'first start and two restarts');
  // The delays themselves are the policy's (its table of cases); here: the supervisor used them.
  t.match(logs.stdout, /exited with code 1; restart 1\/2 in 300 ms[\s\S]*exited with code 1; restart 2\/2 in 600 ms/, 'restarts back off: backoffMin, then double');

  const call = await p.cli(['invoke', '2', '--data', 'x']);
  t.equal(call.code, 1, 'calling the failed function is an error, not a hang');
  t.match(call.stderr, /function 2 answered (5\d\d|404)/);
  t.equal((await p.cli(['invoke', '1', '--data', 'still fine'])).stdout, 'still fine');
  t.equal((await p.cli(['down'])).code, 0);
});

// Never finishes loading: its timer keeps it alive, it never reports ready.
const HANGS = loadsFor(3_600_000);

t.test('a container that hangs while loading: up says whom it waits for and does not wait past one ready timeout', async (t) => {
  const p = await project(t, 'hang');
  p.write('echo.ts', ECHO);
  p.write('hangs.ts', HANGS);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }, { id: 2, handler: './hangs.ts' }]", "  supervisor: { readyTimeout: '7s', backoffMin: '100ms' },\n"));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  // Waiting through its 5 restarts would have returned only once the policy gave up on it.
  const hung = (await psChildren(p)).find((c) => c.functionId === 2)!;
  t.ok(hung.state !== 'failed' && hung.restarts <= 2, `up returned after the first ready timeout: the container is still being restarted (${hung.state}, ${hung.restarts} restart(s))`);
  t.match(up.stdout, /waiting for fn2\.d\d\.r0 \(\d+ s\) to report ready/, 'the Containers step names the container it waits for');
  t.match(up.stdout, /fn2\.d\d\.r0: not ready 7 s after start, killed; restart 1\/5 in \d+ ms/, 'and shows the restart');
  t.match(up.stderr, /1 of 2 not ready yet, still being restarted: fn2\.d\d\.r0 \(not ready 7 s after start, killed; restart 1\/5/, 'up warns about it');
  t.equal((await p.cli(['invoke', '1', '--data', 'fine'])).stdout, 'fine', 'function 1 serves');
  t.match(up.stderr, /GET \/healthz: 503, not ready: 1 of 2 function\(s\) have no ready replica: 2 \(hangs\): no ready replica yet/, "up's health step names the function still loading");
  const logs = await p.cli(['logs', '--id', '2']);
  t.match(logs.stdout, /fn2\.d\d\.r0\[\d+\] not ready 7 s after start, killed; restart 1\/5 in \d+ ms/, 'one log line says why it was killed');
  t.equal((await p.cli(['down'])).code, 0);
  t.same(p.processes(), [], 'down stopped the hanging container too');
});
