// up → invoke → deploy (the new version answers) → ps / logs → down --clean-shm, with the real CLI.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Segment } from '../../src/shm/index.js';
import { post } from '../helpers/http.js';
import { ECHO, UPPER, V2, alive, configText, portFree, project, until } from './helpers.js';

t.test('up, invoke, deploy, ps, logs, down --clean-shm: nothing of the instance is left', async (t) => {
  const p = await project(t, 'life');
  p.write('echo.ts', ECHO);
  p.write('upper.ts', UPPER);
  p.write('v2.ts', V2);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }, { id: 2, name: 'upper', handler: './upper.ts' }]"));

  const up = await p.cli(['up'], { json: true });
  t.equal(up.code, 0, up.stderr);
  const res = JSON.parse(up.stdout) as { supervisorPid: number; url: string; segment: string };
  t.equal(res.url, `http://127.0.0.1:${p.port}`);
  t.ok(Segment.exists(p.segment), 'segment created');

  const hello = await p.cli(['invoke', '1', '--data', 'Hello World']);
  t.equal(hello.code, 0, hello.stderr);
  t.equal(hello.stdout, 'Hello World');
  t.equal((await post(p.port, '/function/2', 'shout')).body.toString(), 'SHOUT', 'a plain HTTP client reaches function 2');

  const dep = await p.cli(['deploy', './v2.ts', '--id', '1'], { json: true });
  t.equal(dep.code, 0, dep.stderr);
  const d = JSON.parse(dep.stdout) as { name: string; deployment: number; previous: number; stopped: number[] };
  t.equal(d.deployment, d.previous + 1);
  t.equal(d.name, 'v2', 'another handler file over function 1 takes its file name');
  t.equal(d.stopped.length, 1, 'the old replica was drained');
  t.equal((await p.cli(['invoke', '1', '--data', 'hi'])).stdout, 'v2:hi', 'the new version answers');
  t.equal((await p.cli(['invoke', '1'], { input: 'piped' })).stdout, 'v2:piped', 'invoke reads a piped body');
  const missing = await p.cli(['invoke', '9', '--data', 'x']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /function 9 answered 404 \(request \d+\): no function with id 9 Code: INVOKE/, 'an error reply is shown as its message, not raw JSON');
  t.same(alive(d.stopped), [], 'the old replica is gone');
  const exported = await p.cli(['export', 'k8s'], { json: true });
  t.equal(exported.code, 0, exported.stderr);
  t.same((JSON.parse(exported.stdout) as { notExported: { id: number; name: string }[] }).notExported.map((f) => [f.id, f.name]), [[1, 'v2']], 'export k8s lists the deployed version it does not export');
  const warned = await p.cli(['export', 'k8s']);
  t.match(warned.stderr.replace(/[\s›]+/g, ' '), /serves function\(s\) 1 \(v2, .*v2\.ts: the config has another version\) from `faasflow deploy`/, 'and says so');

  p.write('typo.ts', "export default async function (input: Uint8Array): Promise<number> {\n  return 'v3:' + input.length;\n}\n");
  const typo = await p.cli(['deploy', './typo.ts', '--id', '1']);
  t.equal(typo.code, 1, 'a type error fails the deploy');
  t.match(typo.stderr, /typo\.ts:2:\d+: Type 'string' is not assignable to type 'number'/);
  // The project has no node_modules: 'faasflow' still resolves to this package's types.
  p.write('ctxbad.ts', "import type { Context } from 'faasflow';\nexport default async function (input: Uint8Array, ctx: Context): Promise<string> {\n  return ctx.nosuch.thing(input);\n}\n");
  const ctxbad = await p.cli(['deploy', './ctxbad.ts', '--id', '1']);
  t.equal(ctxbad.code, 1, 'a wrong use of ctx fails the deploy');
  t.match(ctxbad.stderr, /ctxbad\.ts:3:\d+: Property 'nosuch' does not exist on type 'Context'/);
  p.write('crash.ts', "throw new Error('boom at load');\nexport default async function (): Promise<string> {\n  return 'never';\n}\n");
  const crash = await p.cli(['deploy', './crash.ts', '--id', '1']);
  t.equal(crash.code, 1, 'a handler that dies at load fails the deploy');
  t.match(crash.stderr, /did not start, nothing changed: .*boom at load/);
  const dup = await p.cli(['deploy', './v2.ts', '--id', '3', '--name', 'upper']);
  t.equal(dup.code, 1, 'a name another function has is refused');
  t.match(dup.stderr, /function 2 is already named "upper": pick another --name/);
  t.equal((await p.cli(['invoke', '1', '--data', 'hi'])).stdout, 'v2:hi', 'the deployed version still answers');

  const ps = await p.cli(['ps'], { json: true });
  t.equal(ps.code, 0, ps.stderr);
  const status = JSON.parse(ps.stdout) as { children: { role: string; pid: number; functionId: number; functionName: string; deployment: number; state: string; memory: { rss: number; privateBytes: number } | null }[] };
  t.same(status.children.map((c) => `${c.role}:${c.functionId}`).sort(), ['container:1', 'container:2', 'gateway:0', 'supervisor:0']);
  t.ok(status.children.every((c) => c.state === 'ready' && c.memory && c.memory.rss > c.memory.privateBytes), 'every process ready, with memory figures');
  t.equal(status.children.find((c) => c.functionId === 1)?.deployment, d.deployment);
  t.equal(status.children.find((c) => c.functionId === 2)?.functionName, 'upper', 'a configured name stays');
  const gatewayPid = status.children.find((c) => c.role === 'gateway')?.pid;
  const gatewayArgs = fs.readFileSync(`/proc/${gatewayPid}/cmdline`, 'utf8').split('\0');
  t.ok(gatewayArgs.includes('--max-semi-space-size=8'), `the gateway runs with its chosen young generation (${gatewayArgs.join(' ')})`);
  const table = await p.cli(['ps']);
  t.match(table.stdout, /ROLE\s+FUNCTION\s+DEPLOY\s+PID\s+STATE\s+UPTIME\s+RESTARTS\s+RSS\s+PRIVATE\s+SHM/);

  const logs = await p.cli(['logs', '--id', '1']);
  t.equal(logs.code, 0, logs.stderr);
  t.match(logs.stdout, /fn1\.d\d\.r0\[\d+\] started/);

  t.equal(fs.statSync(path.join(p.runtimeDir, 'control.sock')).mode & 0o777, 0o600, 'the control socket is private');
  t.equal(fs.statSync(p.runtimeDir).mode & 0o777, 0o700, 'and so is the runtime directory');

  // As in `faasflow deploy ./functions/resize.ts --id 2` next to the example resize: the file's
  // name is taken by another function, so the new one gets the id appended instead of failing.
  const upper3 = await p.cli(['deploy', './upper.ts', '--id', '3'], { json: true });
  t.equal(upper3.code, 0, upper3.stderr);
  t.equal((JSON.parse(upper3.stdout) as { name: string }).name, 'upper-3', 'a derived name that is taken gets the id appended');
  t.equal((await p.cli(['invoke', '3', '--data', 'three'])).stdout, 'THREE');

  const procs = p.processes();
  t.ok(procs.length >= 5, `supervisor, gateway and containers run (${procs.length})`);
  const down = await p.cli(['down', '--clean-shm'], { json: true });
  t.equal(down.code, 0, down.stderr);
  const dn = JSON.parse(down.stdout) as { was: string; segments: string[]; stopped: number[] };
  t.equal(dn.was, 'running');
  t.ok(dn.segments.includes(p.segment), 'reports the segment it removed');
  t.same(alive(procs), [], 'no process of the instance is left');
  t.notOk(Segment.exists(p.segment), 'no segment is left');
  t.ok(await portFree(p.port), 'the port is free again');

  const again = await p.cli(['ps']);
  t.equal(again.code, 1);
  t.match(again.stderr, /is not running \(stopped; its logs are kept in .*`faasflow down --purge --instance \S+` removes them\)/, 'ps says the instance stopped and what it kept');
  t.ok(fs.existsSync(path.join(p.runtimeDir, 'logs')), 'the logs are kept after down');

  const purge = await p.cli(['down', '--purge'], { json: true });
  t.equal(purge.code, 0, purge.stderr);
  t.equal((JSON.parse(purge.stdout) as { purged: { dirRemoved: boolean } }).purged.dirRemoved, true, 'down --purge removed the runtime directory');
  t.notOk(fs.existsSync(p.runtimeDir), 'which is gone');
  const after = await p.cli(['ps']);
  t.match(after.stderr, /is not running \(it never ran here: no /, 'ps after the purge');
});

t.test('SIGTERM to the supervisor shuts the instance down like `down`', async (t) => {
  const p = await project(t, 'term');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts', replicas: 2 }]"));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  const procs = p.processes();
  t.equal(procs.length, 4, 'supervisor, gateway, two replicas');
  process.kill(p.supervisorPid()!, 'SIGTERM');
  await until(() => alive(procs).length === 0, 30_000, 'every process of the instance to exit');
  t.notOk(Segment.exists(p.segment), 'the supervisor unlinked its segment');
  t.notOk(fs.existsSync(path.join(p.runtimeDir, 'state.json')), 'and removed its state file');
  t.notOk(fs.existsSync(path.join(p.runtimeDir, 'control.sock')), 'and its control socket');
  t.ok(await portFree(p.port));
  const logs = await p.cli(['logs']);
  t.match(logs.stdout, /shutting down: received SIGTERM/);
  t.match(logs.stdout, /removed segment/);
});
