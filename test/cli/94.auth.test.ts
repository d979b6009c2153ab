// gateway.auth on a real instance: 401 without a token or with a wrong one, 200 with one made
// while the instance runs, a public function without one, revocation, the access log naming each
// caller, the unknown-function count in /metrics, and wrk with the header getting only 200s.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { json, post, request } from '../helpers/http.js';
import { ECHO, configText, project, until } from './helpers.js';

interface AccessLine {
  time: string;
  requestId: number | null;
  function?: string;
  flow?: string;
  path?: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationUs: number;
  caller: string;
}

t.test('bearer tokens guard /function and /flow; the access log names each caller', async (t) => {
  const p = await project(t, 'auth');
  p.write('echo.ts', ECHO);
  p.write('open.ts', ECHO);
  const fns = "[{ id: 1, name: 'echo', handler: './echo.ts' }, { id: 2, name: 'open', handler: './open.ts', public: true }]";
  p.write('faasflow.config.ts', configText(p.port, fns, "  flows: [{ name: 'twice', steps: ['echo', 'echo'] }],\n").replace(`port: ${p.port} }`, `port: ${p.port}, auth: true }`));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const none = await post(p.port, '/function/echo', 'hi');
  t.equal(none.status, 401, 'no token: 401');
  t.equal(none.headers['www-authenticate'], 'Bearer realm="faasflow"');
  t.match(json(none).error, /Authorization: Bearer <token>.*faasflow token create NAME/, 'the error names the fix');
  const wrong = await post(p.port, '/function/1', 'hi', bearer('ff_not-a-token'));
  t.equal(wrong.status, 401, 'a wrong token: 401');
  t.equal(wrong.headers['www-authenticate'], 'Bearer realm="faasflow", error="invalid_token"');
  t.match(json(wrong).error, /not valid here.*faasflow token ls/);
  t.equal((await post(p.port, '/flow/twice', 'hi')).status, 401, 'a flow needs a token too');
  const unknown = await post(p.port, '/function/nope', 'hi');
  t.equal(unknown.status, 401, 'an unknown function is not listed to a caller without a token');
  t.notOk(json(unknown).functions);
  const open = await post(p.port, '/function/open', 'public');
  t.equal(open.status, 200, 'a public function needs no token');
  t.equal(open.body.toString(), 'public');

  // Made while the instance runs: no restart.
  const made = await p.cli(['token', 'create', 'ci']);
  t.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim();
  t.match(token, /^ff_[A-Za-z0-9_-]{43}$/, 'ff_ and 32 random bytes in base64url, alone on stdout');
  t.match(made.stderr, /not shown again/);
  const file = path.join(path.dirname(p.runtimeDir), 'state', 'tokens.json');
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'the tokens file is the owner\'s only');
  t.notOk(fs.readFileSync(file, 'utf8').includes(token.slice(3)), 'the token itself is not stored');
  t.equal((await p.cli(['token', 'create', 'ci'])).code, 1, 'a name is taken once');
  const ok = (await until(async () => {
    const r = await post(p.port, '/function/echo', 'with token', bearer(token));
    return r.status === 200 ? r : undefined;
  }, 10_000, 'the new token to be accepted'))!;
  t.equal(ok.body.toString(), 'with token');
  t.equal((await post(p.port, '/flow/twice', 'f', { authorization: `bearer  ${token}` })).status, 200, 'scheme in any case, a flow with the token');
  for (let i = 0; i < 4; i++) t.equal((await post(p.port, '/function/1', `n${i}`, bearer(token))).status, 200);
  // The same keep-alive connections, another header: checked again, not taken on the connection's word.
  t.equal((await post(p.port, '/function/1', 'x', bearer(`${token}x`))).status, 401, 'a changed token on a vouched connection is refused');
  const missing = await post(p.port, '/function/nope', 'x', bearer(token));
  t.equal(missing.status, 404, 'with a token, an unknown function is 404');
  const listed = await p.cli(['token', 'ls'], { json: true });
  t.same((JSON.parse(listed.stdout) as { tokens: unknown[] }).tokens.map((e) => Object.keys(e as object).sort()), [['created', 'name']], 'ls shows names and dates, never hashes');

  const metrics = (await request(p.port, 'GET', '/metrics')).body.toString();
  t.match(metrics, /^faasflow_unknown_function_total [1-9]/m, 'the 404 for an unknown function is counted');

  // One line per request, each with its caller. 401s and the public call were "-".
  const lines: AccessLine[] = (await until(async (): Promise<AccessLine[] | undefined> => {
    const r = await p.cli(['logs', '--access', '-n', '1000']);
    const ls = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AccessLine);
    return ls.filter((l) => l.caller === 'ci').length >= 7 ? ls : undefined;
  }, 10_000, 'the access log lines'))!;
  const byCi = lines.filter((l) => l.caller === 'ci');
  t.equal(byCi.filter((l) => l.function === 'echo' && l.status === 200).length, 5, 'each of the five calls by ci once');
  t.equal(byCi.filter((l) => l.flow === 'twice' && l.status === 200).length, 1);
  t.equal(byCi.filter((l) => l.function === 'nope' && l.status === 404).length, 1);
  const refused = lines.filter((l) => l.status === 401);
  t.ok(refused.length >= 4 && refused.every((l) => l.caller === '-'), 'refused requests are logged with caller "-"');
  t.ok(lines.some((l) => l.function === 'open' && l.status === 200 && l.caller === '-'), 'the public call too');
  const one = byCi.find((l) => l.function === 'echo')!;
  t.ok(one.requestId !== null && one.bytesIn > 0 && one.bytesOut > 0 && one.durationUs > 0 && !Number.isNaN(Date.parse(one.time)), 'a line has its request id, bytes, duration and time');
  // The time is UTC ISO 8601 to the millisecond, and every line's is now (not a stale cached second).
  t.ok(lines.every((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(l.time) && Math.abs(Date.parse(l.time) - Date.now()) < 300_000), 'every time is ISO 8601 with milliseconds, and recent');
  t.ok(new Set(lines.map((l) => l.time.slice(0, 19))).size >= 2, 'lines written over seconds carry different seconds');
  t.notOk((await p.cli(['logs', '-n', '1000'])).stdout.includes('"caller"'), 'plain `logs` does not show the access log');

  // wrk with the header: every answer a 200.
  const lua = p.write('post.lua', 'wrk.method = "POST"\nwrk.body = "load"\n');
  const wrk = await execa('wrk', ['-t', '1', '-c', '8', '-d', '2s', '-s', lua, '-H', `Authorization: Bearer ${token}`, `http://127.0.0.1:${p.port}/function/echo`], { reject: false, timeout: 60_000 });
  t.equal(wrk.exitCode, 0, wrk.stderr);
  const done = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1] ?? 0);
  t.ok(done > 0, `wrk made requests (${done})`);
  t.notMatch(wrk.stdout, /Non-2xx or 3xx responses|Socket errors/, 'wrk saw only 200s');

  // The keep-alive connections that presented it before are not trusted past the reload either.
  const rm = await p.cli(['token', 'rm', 'ci']);
  t.equal(rm.code, 0, rm.stderr);
  await until(async () => (await post(p.port, '/function/echo', 'x', bearer(token))).status === 401, 10_000, 'the removed token to be refused');
  t.match((await p.cli(['token', 'rm', 'ci'])).stderr, /no token named "ci"/);
  t.equal((await p.cli(['down'])).code, 0);
});
