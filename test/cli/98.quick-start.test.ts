// The README's quick start ("Using faasflow"), run verbatim in a fresh project that has faasflow
// from `npm pack`: the tarball unpacked as node_modules/faasflow (what `npm install ./x.tgz` puts
// there), its dependencies and native build taken from this checkout (offline, no compile), and
// the block's shell lines run as they are written. Its own network namespace gives the block the
// port 8080 it assumes, and FAASFLOW_INSTANCE its own segments; nothing else is changed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import sharp from 'sharp';
import { ROOT } from './helpers.js';

const skip = process.getuid?.() !== 0 ? 'needs root: a network namespace of its own (for port 8080)' : !fs.existsSync('/usr/sbin/ip') && !fs.existsSync('/usr/bin/ip') ? 'needs ip (iproute2)' : false;

/** The first ```sh block after the heading `## Using faasflow`. */
function quickStart(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const from = readme.indexOf('\n## Using faasflow');
  const m = /\n```sh\n([\s\S]*?)\n```/.exec(readme.slice(from));
  if (from < 0 || !m) throw new Error('README.md has no ```sh block under "## Using faasflow"');
  return m[1];
}

// The block deploys and type-checks handlers and runs the resize example: about a minute on a quiet
// 2-vCPU machine, more under load; its own limit below (240 s) is the one that should speak.
t.setTimeout(300_000);

t.test('the README quick start, verbatim, in a fresh project from npm pack', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-qs-'));
  const instance = `qs${process.pid}`;
  const runtimeDir = path.join(dir, 'run');
  t.teardown(() => {
    for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        if (fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`FAASFLOW_RUNTIME_DIR=${runtimeDir}\0`)) process.kill(Number(p), 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const f of fs.readdirSync('/dev/shm')) if (f === `faasflow-${instance}` || f.startsWith(`faasflow-${instance}@`)) fs.rmSync(path.join('/dev/shm', f), { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // --ignore-scripts: pack the dist `npm run build` made (as 40.pid1.test.ts does).
  const pack = await execa('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, reject: false });
  t.equal(pack.exitCode, 0, `npm pack: ${String(pack.stderr).split("\n").filter((l) => /ERR/.test(l)).join(" ")}`);
  const app = path.join(dir, 'app');
  const pkg = path.join(app, 'node_modules', 'faasflow');
  fs.mkdirSync(pkg, { recursive: true });
  await execa('tar', ['xzf', path.join(dir, String(pack.stdout).trim().split('\n').pop()!), '--strip-components=1', '-C', pkg]);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  fs.cpSync(path.join(ROOT, 'build', 'Release'), path.join(pkg, 'build', 'Release'), { recursive: true });
  fs.mkdirSync(path.join(app, 'node_modules', '.bin'));
  fs.symlinkSync('../faasflow/bin/run.js', path.join(app, 'node_modules', '.bin', 'faasflow'));
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  t.notOk(fs.existsSync(path.join(pkg, 'test')), 'the package is what npm pack ships');
  await sharp({ create: { width: 640, height: 480, channels: 3, background: '#c84' } }).jpeg().toFile(path.join(app, 'cat.jpg'));

  const block = quickStart();
  const script = `set -euo pipefail\nip link set lo up\n${block}\n`;
  const r = await execa('unshare', ['--net', '--', 'bash', '-c', script], {
    cwd: app,
    reject: false,
    timeout: 240_000,
    env: { ...process.env, NODE_OPTIONS: '', FAASFLOW_INSTANCE: instance, FAASFLOW_RUNTIME_DIR: runtimeDir, FAASFLOW_STATE_DIR: path.join(dir, 'state'), XDG_CACHE_HOME: path.join(dir, 'cache'), NO_COLOR: '1', npm_config_offline: 'true', npm_config_update_notifier: 'false' },
  });
  const out = String(r.stdout);
  t.equal(r.exitCode, 0, `every line ran: ${String(r.stderr).slice(-1500)}`);
  t.match(out, /Hello World/, 'curl to echo answered');
  t.match(out, /hello, world/, 'the deployed hello answered');
  const small = await sharp(path.join(app, 'small.jpg')).metadata();
  t.same([small.format, small.width], ['jpeg', 200], 'resize made a 200 px wide JPEG');
  t.match(out, /stopped/, 'down stopped it');
});
