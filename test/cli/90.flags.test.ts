// The CLI's flag surface, pinned: a renamed or dropped flag breaks users' scripts, so changing one
// must change this test too.
import t from 'tap';
import Deploy from '../../src/commands/deploy.js';
import Down from '../../src/commands/down.js';
import Invoke from '../../src/commands/invoke.js';
import Logs from '../../src/commands/logs.js';
import Ps from '../../src/commands/ps.js';
import Up from '../../src/commands/up.js';

const surface = (c: { flags?: object; baseFlags?: object; args?: object; enableJsonFlag?: boolean }) => ({
  flags: Object.keys({ ...c.baseFlags, ...c.flags }).sort(),
  args: Object.keys(c.args ?? {}),
  json: c.enableJsonFlag === true,
});

t.test('every command: --instance, --config, --json, and its own flags', async (t) => {
  const common = ['config', 'instance'];
  t.same(surface(Up), { flags: [...common, 'foreground', 'log-format', 'reset'].sort(), args: [], json: true });
  t.same(surface(Deploy), { flags: [...common, 'id', 'name', 'replicas'].sort(), args: ['file'], json: true });
  t.same(surface(Down), { flags: [...common, 'clean-shm', 'purge', 'timeout'].sort(), args: [], json: true });
  t.same(surface(Ps), { flags: common, args: [], json: true });
  t.same(surface(Logs), { flags: [...common, 'access', 'follow', 'id', 'lines'].sort(), args: [], json: true });
  t.same(surface(Invoke), { flags: [...common, 'content-type', 'data', 'file', 'flow', 'header', 'query', 'timeout'].sort(), args: ['id'], json: true });
});

t.test('parsing: --id is required for deploy, --data and --file exclude each other', async (t) => {
  await t.rejects(Deploy.run(['./x.ts']), /Missing required flag id/);
  await t.rejects(Invoke.run(['1', '--data', 'a', '--file', 'b']), /cannot also be provided when using/);
  await t.rejects(Down.run(['--timeout', 'soon', '--instance', `flags-${process.pid}`]), /--timeout soon is not a duration/);
  await t.rejects(Ps.run(['--instance', 'bad name!']), /invalid instance name "bad name!"/);
  // oclif's error handling sets the exit code of what it takes to be the CLI process: this one.
  process.exitCode = 0;
});
