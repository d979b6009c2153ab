// bin/run.js runs @oclif/core from the build's bundle (dist/oclif-core.cjs, with V8's code cache,
// its execute() taken straight from the bundle, commands sorted by code units instead of
// localeCompare: scripts/bundle-oclif.js). What a user sees must be what oclif from node_modules
// shows: the same output and exit status for help, a command's help, an unknown command,
// --version and a command's error, in text and JSON; a bad flag shows the command's usage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { BIN, ROOT } from './helpers.js';

// The same CLI without the bundle: oclif's own entry point from node_modules, loading the same commands.
const UNBUNDLED = `import { createRequire } from 'node:module';
const { execute } = createRequire(${JSON.stringify(BIN)})('@oclif/core');
await execute({ dir: ${JSON.stringify(pathToFileURL(BIN).href)}, args: process.argv.slice(1) });`;

const CASES = [['--help'], ['ps', '--help'], ['pss'], ['--version'], ['ps', '--instance', 'ff-nowhere'], ['ps', '--json', '--instance', 'ff-nowhere'], ['shm', '--help'], ['token']];

t.test('the bundled oclif answers as oclif from node_modules does', async (t) => {
  t.ok(fs.existsSync(path.join(ROOT, 'dist', 'oclif-core.cjs')), 'the build wrote the bundle');
  const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bundled-oclif-'));
  t.teardown(() => fs.rmSync(runtime, { recursive: true, force: true }));
  // No instance, no config: every run reads the same nothing; no colours, a fixed width.
  const env = { FAASFLOW_RUNTIME_DIR: runtime, NO_COLOR: '1', COLUMNS: '100', FORCE_COLOR: '0' };
  for (const args of CASES) {
    const opts = { cwd: runtime, env, reject: false, stdin: 'ignore' as const };
    const bundled = await execa(process.execPath, [BIN, ...args], opts);
    const plain = await execa(process.execPath, ['--input-type=module', '-e', UNBUNDLED, '--', ...args], opts);
    const what = `faasflow ${args.join(' ')}`;
    t.equal(bundled.exitCode, plain.exitCode, `${what}: exit status ${bundled.exitCode}`);
    t.equal(bundled.stdout, plain.stdout, `${what}: the same standard output`);
    t.equal(bundled.stderr.replaceAll(runtime, 'RUNTIME'), plain.stderr.replaceAll(runtime, 'RUNTIME'), `${what}: the same standard error`);
  }
  // A bad flag: oclif from node_modules, started from \`node -e\` as above, shows the CLI's help here
  // rather than the command's usage (it did before the bundle's changes too): checked as such.
  const bad = await execa(process.execPath, [BIN, 'ps', '--bogus'], { cwd: runtime, env, reject: false });
  t.equal(bad.exitCode, 2, 'faasflow ps --bogus: exit status 2');
  t.match(bad.stderr, /Error: Nonexistent flag: --bogus[\s\S]*USAGE\s+\$ faasflow ps \[--json\]/, 'the error, then the usage of ps');
  const help = await execa(process.execPath, [BIN, '--help'], { env, reject: false });
  const listed = [...help.stdout.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]);
  t.ok(listed.includes('ps') && listed.includes('top'), `--help lists the commands (${listed.join(', ')})`);
});
