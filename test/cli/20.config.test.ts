import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { configError } from '../helpers/config.js';
import { parseDuration, parseSize } from '../../src/common/units.js';

function dirWith(t: Test, files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-cfg-'));
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ECHO = 'export default async (input: Uint8Array) => input;\n';

t.test('sizes and durations: numbers, binary and decimal units; junk is undefined', async (t) => {
  t.equal(parseSize('1GiB'), 1024 ** 3);
  t.equal(parseSize('512MiB'), 512 * 1024 ** 2);
  t.equal(parseSize('4K'), 4096);
  t.equal(parseSize('1GB'), 1e9);
  t.equal(parseSize(65536), 65536);
  t.equal(parseSize('1 gigabyte'), undefined);
  t.equal(parseSize(-1), undefined);
  t.equal(parseDuration('30s'), 30_000);
  t.equal(parseDuration('2m'), 120_000);
  t.equal(parseDuration('250ms'), 250);
  t.equal(parseDuration('soon'), undefined);
});

t.test('no config file: the bundled examples, echo as function 1, defaults everywhere', async (t) => {
  const dir = dirWith(t, {});
  const saved = process.env.FAASFLOW_RUNTIME_DIR;
  delete process.env.FAASFLOW_RUNTIME_DIR;
  t.teardown(() => {
    if (saved !== undefined) process.env.FAASFLOW_RUNTIME_DIR = saved;
  });
  const c = await loadConfig({ cwd: dir, instance: 'default' });
  t.equal(c.file, '');
  t.equal(c.functions[0].id, 1);
  t.equal(c.functions[0].name, 'echo');
  t.ok(fs.existsSync(c.functions[0].handler), 'handler path resolved inside the package');
  t.equal(c.gateway.port, 8080);
  t.equal(c.segment.size, 1024 ** 3);
  t.equal(c.instance, 'default');
  t.match(c.runtimeDir, new RegExp(`faasflow-${process.getuid!()}/default$`));
  t.equal(c.supervisor.maxRestarts, 5);
  t.equal(c.logs.maxBytes, 10 * 1024 ** 2);
  t.equal(c.spinMicros, 200, 'polling on, 200 µs');
});

t.test('a full config resolves: units, relative handler paths, defaults for what is left out', async (t) => {
  const dir = dirWith(t, {
    'echo.ts': ECHO,
    'faasflow.config.ts': `import { defineConfig } from 'faasflow';
export default defineConfig({
  gateway: { port: 9123 },
  segment: { size: '256MiB', classes: [{ size: '4KiB' }, { size: '1MiB', count: 8 }] },
  functions: [{ id: 3, handler: './echo.ts', replicas: 2, timeout: '5s', memoryLimit: '128MiB', env: { A: 'b' } }],
  supervisor: { maxRestarts: 2, period: '30s' },
});
`,
  });
  const c = await loadConfig({ cwd: dir, instance: 'cfgtest' });
  t.equal(c.file, path.join(dir, 'faasflow.config.ts'));
  t.equal(c.gateway.port, 9123);
  t.equal(c.segment.size, 256 << 20);
  t.same(c.segment.classes, [{ size: 4096 }, { size: 1 << 20, count: 8 }]);
  t.same(c.functions, [{ id: 3, name: 'echo', handler: path.join(dir, 'echo.ts'), replicas: 2, concurrency: 16, timeoutMs: 5000, memoryLimit: 128 << 20, memoryMax: 256 << 20, pidsMax: 256, domain: 'echo', env: { A: 'b' } }]);
  t.equal(c.supervisor.maxRestarts, 2);
  t.equal(c.supervisor.periodMs, 30_000);
});

t.test('security domains: the default is one per function; one domain has one user; memoryMax is at least memoryLimit', async (t) => {
  const dir = dirWith(t, {
    'echo.ts': ECHO,
    'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts' }, { id: 2, handler: './echo.ts', name: 'b', domain: 'shared', user: 'alice' }, { id: 3, handler: './echo.ts', name: 'c', domain: 'shared', user: 'alice', memoryMax: '64MiB' }] };\n",
  });
  const c = await loadConfig({ cwd: dir, instance: 'cfgtest' });
  t.same(c.functions.map((f) => [f.domain, f.user ?? null, f.memoryMax]), [['echo', null, 1 << 30], ['shared', 'alice', 1 << 30], ['shared', 'alice', 64 << 20]]);
  t.equal(c.security.sandbox, true, 'sandboxed by default');
  t.ok(c.gateway.workers >= 1, 'at least one gateway');
  const bad = dirWith(t, {
    'echo.ts': ECHO,
    'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts', domain: 'd', user: 'alice' }, { id: 2, handler: './echo.ts', name: 'b', domain: 'd', user: 'bob', memoryLimit: '512MiB', memoryMax: '256MiB' }] };\n",
  });
  const msg = await configError(bad);
  t.match(msg, /functions\[1\]\.user: domain "d" already runs as "alice" \(functions\[0\]\)/);
  t.match(msg, /functions\[1\]\.memoryMax: must be at least memoryLimit/);
  t.match(await configError(dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts', domain: 'Not OK' }] };\n" })), /functions\[0\]\.domain: must be 1-31 lower-case/);
});

t.test('flows resolve to function ids; an unknown function, an empty group, a group last and a duplicate name are named', async (t) => {
  const ok = dirWith(t, {
    'echo.ts': ECHO,
    'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts' }, { id: 2, name: 'upper', handler: './echo.ts' }, { id: 3, name: 'join', handler: './echo.ts' }], flows: [{ name: 'shout', steps: ['upper', 1], timeout: '5s' }, { name: 'both', steps: [{ parallel: ['echo', { function: 'upper', retries: 2 }] }, 'join'] }] };\n",
  });
  const c = await loadConfig({ cwd: ok, instance: 'cfgtest' });
  t.same(c.flows, [
    { name: 'shout', statsId: 63, timeoutMs: 5000, steps: [{ kind: 'call', call: { functionId: 2, statsId: 62, name: 'upper', retries: 0 } }, { kind: 'call', call: { functionId: 1, statsId: 61, name: 'echo', retries: 0 } }] },
    { name: 'both', statsId: 60, steps: [{ kind: 'parallel', branches: [{ functionId: 1, statsId: 59, name: 'echo', retries: 0 }, { functionId: 2, statsId: 58, name: 'upper', retries: 2 }] }, { kind: 'call', call: { functionId: 3, statsId: 57, name: 'join', retries: 0 } }] },
  ]);
  const bad = dirWith(t, {
    'echo.ts': ECHO,
    'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts' }], flows: [{ name: 'a', steps: ['nosuch'] }, { name: 'a', steps: [{ parallel: [] }, 'echo'] }, { name: 'b', steps: ['echo', { parallel: ['echo'] }] }] };\n",
  });
  const msg = await configError(bad);
  t.match(msg, /flows\[0\]\.steps\[0\]: unknown function "nosuch"/);
  t.match(msg, /flows\[1\]\.name: duplicate flow name "a" \(flows\[0\] has it too\)/);
  t.match(msg, /flows\[1\]\.steps\[0\]\.parallel: an empty parallel group/);
  t.match(msg, /flows\[2\]\.steps\[1\]: a parallel group cannot be the last step/);
  // Flows count in the last rows of the stats table: a function id there is refused, by name.
  const crowded = dirWith(t, {
    'echo.ts': ECHO,
    'faasflow.config.ts': "export default { segment: { maxFunctions: 4 }, functions: [{ id: 3, handler: './echo.ts' }], flows: [{ name: 'a', steps: ['echo'] }] };\n",
  });
  t.match(await configError(crowded), /flows: function 3 \(echo\) and the flows' 2 stats rows \(one per flow and per step\) do not fit in segment\.maxFunctions \(4\)/);
});

t.test('a syntax error names file:line:column and shows the line', async (t) => {
  const dir = dirWith(t, { 'faasflow.config.ts': "export default {\n  functions: [{ id: 1, handler: './echo.ts' }\n};\n" });
  const msg = await configError(dir);
  t.match(msg, /faasflow\.config\.ts:3:1: Expected "\]" but found "}"/);
});

t.test('unknown fields are named with their path and a did-you-mean', async (t) => {
  const dir = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts', replica: 2 }], gatway: {} };\n" });
  const msg = await configError(dir);
  t.match(msg, /functions\[0\]\.replica: unknown field; did you mean "replicas"\?/);
  t.match(msg, /gatway: unknown field; did you mean "gateway"\?/);
});

t.test('a number in quotes is named with its path and the fix', async (t) => {
  const dir = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { gateway: { port: '18080' }, functions: [{ id: 1, handler: './echo.ts' }] };\n" });
  t.match(await configError(dir), /gateway\.port: expected a number, got the string "18080": write 18080 without quotes/);
});

t.test('duplicate ids name both entries and the fix', async (t) => {
  const dir = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts' }, { id: 1, handler: './echo.ts', name: 'again' }] };\n" });
  t.match(await configError(dir), /functions\[1\]\.id: duplicate id 1 \(functions\[0\] has it too\): give every function its own id/);
});

t.test('two functions of one handler file without names clash on the default name', async (t) => {
  const dir = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts' }, { id: 2, handler: './echo.ts' }] };\n" });
  t.match(await configError(dir), /functions\[1\]\.name: duplicate name "echo" \(functions\[0\] has it too; "echo" is the default, from the handler's file name\): names must be unique, set `name`/);
  const named = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts' }, { id: 2, handler: './echo.ts', name: 'echo2' }] };\n" });
  t.same((await loadConfig({ cwd: named, instance: 'x' })).functions.map((f) => f.name), ['echo', 'echo2']);
});

t.test('spinMicros: 0 turns polling off; a negative, fractional or huge value is refused with the range', async (t) => {
  const off = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { spinMicros: 0, functions: [{ id: 1, handler: './echo.ts' }] };\n" });
  t.equal((await loadConfig({ cwd: off, instance: 'x' })).spinMicros, 0);
  for (const bad of ['-1', '2.5', '50000', "'fast'"]) {
    const dir = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': `export default { spinMicros: ${bad}, functions: [{ id: 1, handler: './echo.ts' }] };\n` });
    t.match(await configError(dir), /spinMicros: .*(0|10000|number)/, `spinMicros: ${bad}`);
  }
});

t.test('logs: maxLine, rate and burst default, resolve and are checked against each other', async (t) => {
  const plain = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts' }] };\n" });
  t.same((await loadConfig({ cwd: plain, instance: 'x' })).logs, { maxBytes: 10 << 20, keep: 3, maxLine: 16 << 10, rate: 1 << 20, burst: 4 << 20 }, 'defaults: 16 KiB lines, 1 MiB/s after a 4 MiB burst');
  const set = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { logs: { maxLine: '4KiB', rate: 0 }, functions: [{ id: 1, handler: './echo.ts' }] };\n" });
  t.match((await loadConfig({ cwd: set, instance: 'x' })).logs, { maxLine: 4096, rate: 0 }, 'rate 0: no limit');
  const cases: [string, RegExp][] = [
    ["{ maxLine: 100 }", /logs\.maxLine: 100 bytes is out of range: a line may be cut at 1KiB to 1MiB/],
    ["{ maxLine: '2MiB' }", /logs\.maxLine: 2097152 bytes is out of range/],
    ["{ rate: 10 }", /logs\.rate: 10 bytes a second is below 1KiB: write at least '1KiB', or 0 for no limit/],
    ["{ rate: '64KiB', burst: '16KiB' }", /logs\.burst: 16384 bytes is below logs\.maxLine \+ 1KiB \(17408\): the longest line with its timestamp could never be written; raise logs\.burst or lower logs\.maxLine/],
    ["{ rate: 'fast' }", /logs\.rate: "fast" is not a size/],
  ];
  for (const [logs, msg] of cases) {
    const dir = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': `export default { logs: ${logs}, functions: [{ id: 1, handler: './echo.ts' }] };\n` });
    t.match(await configError(dir), msg, `logs: ${logs}`);
  }
});

t.test('bad sizes and durations say what is accepted', async (t) => {
  const dir = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { segment: { size: '1 gigabyte' }, functions: [{ id: 1, handler: './echo.ts', timeout: 'later' }] };\n" });
  const msg = await configError(dir);
  t.match(msg, /segment\.size: "1 gigabyte" is not a size: write a number of bytes or a string such as '512MiB'/);
  t.match(msg, /functions\[0\]\.timeout: "later" is not a duration/);
});

t.test('passEnv names variables; a bad name, NODE_OPTIONS and TMPDIR are refused with the field', async (t) => {
  const ok = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts', passEnv: ['DB_URL', 'lower_ok'] }] };\n" });
  t.same((await loadConfig({ cwd: ok, instance: 'x' })).functions[0].passEnv, ['DB_URL', 'lower_ok']);
  const dir = dirWith(t, { 'echo.ts': ECHO, 'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './echo.ts', passEnv: ['1BAD', 'NODE_OPTIONS', 'TMPDIR'] }] };\n" });
  const msg = await configError(dir);
  t.match(msg, /functions\[0\]\.passEnv\[0\]: must be names of environment variables/);
  t.match(msg, /functions\[0\]\.passEnv\[1\]: NODE_OPTIONS is the function's own, not the supervisor's: set the function's own in functions\[\]\.env/);
  t.match(msg, /functions\[0\]\.passEnv\[2\]: TMPDIR is the function's own/);
});

t.test('a missing handler file names the field, the path looked at and what it is relative to', async (t) => {
  const dir = dirWith(t, { 'faasflow.config.ts': "export default { functions: [{ id: 1, handler: './nope.ts' }] };\n" });
  const msg = await configError(dir);
  t.match(msg, /functions\[0\]\.handler: \.\/nope\.ts does not exist \(looked for .*nope\.ts\); fix the path, it is relative to faasflow\.config\.ts/);
});

t.test('a config that throws, or exports nothing, says so', async (t) => {
  const throws = dirWith(t, { 'faasflow.config.ts': "throw new Error('boom');\nexport default {};\n" });
  t.match(await configError(throws), /evaluating the config threw: boom/);
  const none = dirWith(t, { 'faasflow.config.ts': 'export const x = 1;\n' });
  t.match(await configError(none), /has no default export/);
});

t.test('--config pointing nowhere is an error, not the built-in examples', async (t) => {
  const dir = dirWith(t, {});
  await t.rejects(loadConfig({ cwd: dir, file: 'other.config.ts', instance: 'x' }), { code: 'CONFIG', message: /other\.config\.ts does not exist/ });
});
