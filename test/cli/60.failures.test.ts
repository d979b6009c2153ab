// What a user gets wrong: each is one short error naming the cause and the fix, a non-zero exit,
// and nothing left behind (no process, no segment, the port untouched).
import net from 'node:net';
import t, { type Test } from 'tap';
import { Segment, memoryRoom } from '../../src/shm/index.js';
import { ECHO, configText, project, type Project } from './helpers.js';

function nothingLeft(t: Test, p: Project): void {
  t.same(p.processes(), [], 'no process left');
  t.notOk(Segment.exists(p.segment), 'no segment left');
}

const BAD_CONFIGS: [string, string, RegExp][] = [
  ['syntax error', "export default {\n  functions: [{ id: 1, handler: './echo.ts' }\n};\n", /faasflow\.config\.ts:3:1: Expected "\]" but found "}"/],
  ['unknown field', "export default { functions: [{ id: 1, handler: './echo.ts', replica: 2 }] };\n", /functions\[0\]\.replica: unknown field; did you mean "replicas"\?/],
  ['duplicate id', "export default { functions: [{ id: 1, handler: './echo.ts' }, { id: 1, name: 'b', handler: './echo.ts' }] };\n", /functions\[1\]\.id: duplicate id 1 \(functions\[0\] has it too\)/],
  ['missing handler file', "export default { functions: [{ id: 1, handler: './gone.ts' }] };\n", /functions\[0\]\.handler: \.\/gone\.ts does not exist .* fix the path/],
];

for (const [what, text, message] of BAD_CONFIGS) {
  t.test(`a config with a ${what}: a short error, exit 1, nothing started`, async (t) => {
    const p = await project(t, 'cfg');
    p.write('echo.ts', ECHO);
    p.write('faasflow.config.ts', text);
    const r = await p.cli(['up']);
    t.equal(r.code, 1);
    t.match(r.stderr, message);
    t.match(r.stderr, /Code: CONFIG/);
    t.notOk(p.supervisorPid(), 'no supervisor was started');
    nothingLeft(t, p);
  });
}

t.test('a taken port: the gateway says which port and how to fix it; everything started is stopped', async (t) => {
  const p = await project(t, 'port');
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(p.port, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]"));
  const r = await p.cli(['up']);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`port ${p.port} on 127.0.0.1 is already in use: stop what uses it .* or set gateway.port in faasflow.config.ts`));
  t.equal(r.stderr.split('already in use').length - 1, 1, 'the error is printed once');
  t.notMatch(r.stdout, /already in use|FAILED/, 'not also by the step list');
  t.match(r.stdout, /Supervisor pid \d+/, 'which still shows the steps done before it');
  nothingLeft(t, p);
});

t.test('not enough memory for the domain segments: says how much there is and what to change', async (t) => {
  const p = await project(t, 'mem');
  // A domain segment is a memfd: memory, not /dev/shm, is what it needs.
  const tooBig = Math.ceil((memoryRoom().room + (1 << 30)) / (1 << 20)) * (1 << 20);
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]").replace("size: '64MiB'", `size: ${tooBig}`));
  const r = await p.cli(['up']);
  t.equal(r.code, 1);
  t.match(r.stderr, /not enough memory for domain segment \/faasflow-.*@.* \([\d.]+ GiB\): [\d.]+ \w?i?B (of memory available \(MemAvailable\)|left under this process's memory cgroup limit).*\. Lower segment\.size in faasflow\.config\.ts/);
  nothingLeft(t, p);
});

t.test('an instance that already runs is refused, and keeps running', async (t) => {
  const p = await project(t, 'twice');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]"));
  t.equal((await p.cli(['up'])).code, 0);
  const again = await p.cli(['up']);
  t.equal(again.code, 1);
  t.match(again.stderr, /is already running \(supervisor pid \d+, http:\/\/127\.0\.0\.1:\d+\): run `faasflow down --instance .*` first or pick another --instance/);
  t.equal((await p.cli(['invoke', '1', '--data', 'still here'])).stdout, 'still here');
  t.equal((await p.cli(['down'])).code, 0);
  nothingLeft(t, p);
});

t.test('commands against an instance that is not running say how to start it', async (t) => {
  const p = await project(t, 'none');
  for (const args of [['ps'], ['invoke', '1', '--data', 'x'], ['deploy', './x.ts', '--id', '1']]) {
    const r = await p.cli(args);
    t.equal(r.code, 1, args[0]);
    t.match(r.stderr, /is not running .*start it with `faasflow up/, args[0]);
  }
  const down = await p.cli(['down'], { json: true });
  t.equal(down.code, 0, '`down` of nothing succeeds (idempotent)');
  t.equal((JSON.parse(down.stdout) as { was: string }).was, 'absent');
});
