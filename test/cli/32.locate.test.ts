// Finding an instance whose config puts its runtime directory elsewhere (runtimeDir), as a user
// runs faasflow: no FAASFLOW_RUNTIME_DIR. `up` records where it put the instance, so the other
// commands find it without evaluating the config; shown by breaking the config after `up`.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { ENV } from '../../src/common/env.js';
import { locationLinkFor } from '../../src/common/paths.js';
import { BIN, ECHO, alive, project, until } from './helpers.js';

/** Pids whose environment carries `marker` (what this test started, and what those started). */
function carrying(marker: string): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`${marker}\0`);
    } catch {
      return false;
    }
  }).map(Number);
}

t.test("ps, logs and down find an instance in its config's runtimeDir without evaluating the config", async (t) => {
  const p = await project(t, 'where');
  const xdg = path.join(p.dir, 'xdg');
  const base = path.join(p.dir, 'base');
  fs.mkdirSync(xdg, { mode: 0o700 });
  const env: Record<string, string> = { ...process.env, XDG_RUNTIME_DIR: xdg, NO_COLOR: '1' } as Record<string, string>;
  delete env[ENV.runtimeDir];
  delete env[ENV.instance];
  const marker = `XDG_RUNTIME_DIR=${xdg}`;
  // Registered after the project's: runs before it, so nothing of the instance runs when it cleans up.
  t.teardown(async () => {
    const left = carrying(marker);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    await until(() => alive(left).length === 0, 5000, 'the killed processes to exit').catch(() => undefined);
  });
  const cli = async (args: string[], cwd = p.dir) => {
    const r = await execa(process.execPath, [BIN, ...args, '--instance', p.instance], { cwd, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr).replace(/\s*\n\s*›\s*/g, ' ') };
  };
  p.write('echo.ts', ECHO);
  const config = `import { defineConfig } from 'faasflow';\nexport default defineConfig({\n  runtimeDir: ${JSON.stringify(base)},\n  gateway: { port: ${p.port} },\n  segment: { size: '64MiB' },\n  functions: [{ id: 1, handler: './echo.ts' }],\n});\n`;
  p.write('faasflow.config.ts', config);

  // A link left by an instance whose runtime directory went away with its project.
  const before = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = xdg;
  const dangling = locationLinkFor(`gone-${p.instance}`);
  process.env.XDG_RUNTIME_DIR = before;
  fs.mkdirSync(path.dirname(dangling), { recursive: true, mode: 0o700 });
  fs.symlinkSync(path.join(base, 'removed-long-ago'), dangling);

  const up = await cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.notOk(fs.existsSync(dangling) || fs.lstatSync(dangling, { throwIfNoEntry: false }), 'up removed the link that led nowhere');
  const dir = path.join(base, p.instance);
  t.ok(fs.existsSync(path.join(dir, 'state.json')), "the instance is in the config's runtimeDir");
  const saved = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = xdg;
  const link = locationLinkFor(p.instance);
  process.env.XDG_RUNTIME_DIR = saved;
  t.equal(fs.readlinkSync(link), dir, 'up recorded where it put it');

  // A config that no longer evaluates: only the recorded location can lead to the instance.
  p.write('faasflow.config.ts', 'export default defineConfig({ this is not TypeScript');
  const ps = await cli(['ps', '--json']);
  t.equal(ps.code, 0, ps.stderr);
  t.equal((JSON.parse(ps.stdout) as { state: string }).state, 'running', 'ps finds it');
  t.notMatch(ps.stderr, /ignoring/, 'without evaluating the config');
  const elsewhere = await cli(['ps', '--json'], xdg);
  t.equal(elsewhere.code, 0, 'also from a directory without a config');
  t.match((await cli(['logs', '-n', '50'])).stdout, /\[health\] done/, 'logs reads its log files');
  const named = await cli(['ps', '--json', '--config', 'faasflow.config.ts']);
  t.equal(named.code, 0, named.stderr);
  t.equal((JSON.parse(named.stdout) as { state: string }).state, 'running', '--config naming the file `up` ran from finds it the same way');
  t.notMatch(named.stderr, /ignoring/, 'also without evaluating it');
  p.write('other.config.ts', 'export default defineConfig({ neither is this');
  const other = await cli(['ps', '--config', 'other.config.ts']);
  t.match(other.stderr, /ignoring .*other\.config\.ts/, 'another config is evaluated to find its instance: a broken one is said to be ignored');

  p.write('faasflow.config.ts', config);
  const down = await cli(['down']);
  t.equal(down.code, 0, down.stderr);
  t.match(down.stdout, /stopped/, 'down stops it');
  t.same(carrying(marker), [], 'nothing of the instance is left running');
  t.notOk(fs.existsSync(path.join(dir, 'state.json')), 'its state file is removed');
});
