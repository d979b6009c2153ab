// The CLI's edges, with the real binary: deploy type-checks `ctx` and resolves 'faasflow' from a
// directory without node_modules; `logs -n 0` (also with --follow) shows no old line; `invoke
// --file -` reads standard input, --query and --header reach the function; a broken config's warning in `ps`/`down` gives the reason; an
// instance without functions says so instead of suggesting a curl that gets 404; SIGTERM during
// `up` aborts the start cleanly.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { BIN, ECHO, configText, project, until } from './helpers.js';

const CTX_CALLED = `import type { Context } from 'faasflow';
export default async function (input: Uint8Array, ctx: Context): Promise<Uint8Array> {
  ctx.log('hello');
  return input;
}
`;

const CTX_GOOD = `import { defineConfig, type Context } from 'faasflow';
export default async function (input: Uint8Array, ctx: Context): Promise<string> {
  ctx.log.info('hello from ctx');
  return \`\${typeof defineConfig}:\${ctx.functionId}:\` + new TextDecoder().decode(input);
}
`;

const REPORT = `import type { Context } from 'faasflow';
export default async function (_input: Uint8Array, ctx: Context) {
  return { query: [...ctx.query], trace: ctx.headers['x-trace'], type: ctx.contentType };
}
`;

t.test('deploy checks ctx without a local faasflow; logs -n 0; invoke --file -', async (t) => {
  const p = await project(t, 'edge');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]"));
  t.equal((await p.cli(['up'])).code, 0);
  t.notOk(fs.existsSync(path.join(p.dir, 'node_modules')), 'the project has no node_modules');

  p.write('called.ts', CTX_CALLED);
  const bad = await p.cli(['deploy', './called.ts', '--id', '2']);
  t.equal(bad.code, 1, 'calling ctx.log (an object) fails the deploy');
  t.match(bad.stderr, /called\.ts:3:\d+: This expression is not callable/);
  p.write('good.ts', CTX_GOOD);
  const good = await p.cli(['deploy', './good.ts', '--id', '2']);
  t.equal(good.code, 0, good.stderr);
  t.equal((await p.cli(['invoke', '2', '--data', 'hi'])).stdout, 'function:2:hi', "a typed handler deploys, and a runtime import from 'faasflow' resolves");

  t.equal((await p.cli(['invoke', '1', '--file', '-'], { input: 'from stdin' })).stdout, 'from stdin', 'invoke --file - reads standard input');

  p.write('report.ts', REPORT);
  t.equal((await p.cli(['deploy', './report.ts', '--id', '3'])).code, 0);
  const asked = await p.cli(['invoke', '3', '--data', 'b', '--query', 'w=200&h=1 0', '-q', 'x=ü', '-H', 'x-trace: 7', '-H', 'content-type: text/csv']);
  t.equal(asked.code, 0, asked.stderr);
  t.same(JSON.parse(asked.stdout), { query: [['w', '200'], ['h', '1 0'], ['x', 'ü']], trace: '7', type: 'text/csv' }, 'invoke passes --query and --header to the function');
  const badQuery = await p.cli(['invoke', '3', '--query', 'w']);
  t.equal(badQuery.code, 1);
  t.match(badQuery.stderr, /--query "w" is not NAME=VALUE/, 'a --query without = is refused with the form it needs');
  const badHeader = await p.cli(['invoke', '3', '-H', 'no colon']);
  t.match(badHeader.stderr, /--header "no colon" is not 'NAME: VALUE'/, 'so is a --header without a name');

  const none = await p.cli(['logs', '-n', '0']);
  t.equal(none.code, 0, none.stderr);
  t.equal(none.stdout, '', 'logs -n 0 prints no old line');
  const follow = p.start(['logs', '-n', '0', '--follow', '--id', '2']);
  let out = '';
  follow.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // The follower starts at the end of the files whenever it gets there: new lines keep coming
  // until one shows up.
  await until(async () => {
    await p.cli(['invoke', '2', '--data', 'x']);
    return out.includes('hello from ctx');
  }, 30_000, 'logs --follow to print a new line');
  follow.kill('SIGINT');
  t.equal((await follow).exitCode, 0, 'Ctrl-C ends logs --follow');
  const lines = out.split('\n').filter(Boolean);
  t.ok(lines.length > 0 && lines.every((l) => l.includes('hello from ctx')), `logs -n 0 --follow printed only new lines:\n${out}`);

  t.equal((await p.cli(['down'])).code, 0);
});

t.test("a broken config: ps and down still work, and their warning names the reason", async (t) => {
  const p = await project(t, 'broken');
  // The warning is for a config that would have moved the runtime directory: only without
  // FAASFLOW_RUNTIME_DIR is it read at all.
  const run = async (args: string[]) => {
    const r = await execa(process.execPath, [BIN, ...args, '--instance', p.instance], { cwd: p.dir, env: { FAASFLOW_RUNTIME_DIR: '', NO_COLOR: '1' }, reject: false, stdin: 'ignore' });
    // oclif wraps at the terminal width (as in helpers.ts cli())
    return { exitCode: r.exitCode, stderr: r.stderr.replace(/\s*\n\s*›\s*/g, ' ') };
  };
  p.write('faasflow.config.ts', "export default {\n  functions: [{ id: 1, handler: './echo.ts' }\n};\n");
  const ps = await run(['ps']);
  t.equal(ps.exitCode, 1, 'nothing runs');
  t.match(ps.stderr, /ignoring .*faasflow\.config\.ts \(faasflow\.config\.ts:3:1: Expected "\]" but found "}"\)/, 'a syntax error: its file:line:col and message');
  p.write('faasflow.config.ts', "export default { functions: [{ id: 1, handler: './echo.ts', replica: 2 }] };\n");
  const down = await run(['down']);
  t.equal(down.exitCode, 0, '`down` of nothing succeeds');
  t.match(down.stderr, /ignoring .*faasflow\.config\.ts \(functions\[0\]\.replica: unknown field; did you mean "replicas"\?\)/, 'a validation error: the problem, not the header naming the file');
});

t.test('an instance without functions says how to deploy one', async (t) => {
  const p = await project(t, 'empty');
  p.write('faasflow.config.ts', configText(p.port, '[]'));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.match(up.stdout, /is up: .*no functions yet: faasflow deploy \.\/handler\.ts --id 1/);
  t.notMatch(up.stdout, /curl/, 'no curl that would get 404');
  t.equal((await p.cli(['down'])).code, 0);
});

t.test('SIGTERM to `up --foreground` during startup aborts it and leaves nothing', async (t) => {
  const p = await project(t, 'termup');
  // Its container takes a while to be ready: the signal lands while `up` is still starting.
  p.write('slow.ts', 'await new Promise((r) => setTimeout(r, 4000));\nexport default (input: Uint8Array) => input;\n');
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './slow.ts' }]"));
  const up = p.start(['up', '--foreground']);
  let out = '';
  up.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  up.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  await until(() => p.supervisorPid() !== undefined, 20_000, 'the supervisor to start');
  up.kill('SIGTERM');
  const r = await up;
  t.not(r.exitCode, 0, '`up` fails');
  t.match(out.replace(/\s+›\s+/g, ' '), /startup aborted \(Ctrl-C or SIGTERM\): everything it had started was\s+stopped and removed/, 'and says so');
  await until(() => p.processes().length === 0, 20_000, 'every process of the instance to be gone');
  t.notOk(fs.existsSync(`/dev/shm${p.segment}`), 'no segment left');
});
