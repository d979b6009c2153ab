// State that survives a reboot: every process of the instance SIGKILLed, its runtime directory,
// segment, domain directories and cgroups gone, as after a power cut on a host whose /tmp and
// /dev/shm are emptied at boot; `up` brings back what `faasflow deploy` put in place and the
// secrets. And deployments left in the runtime directory by an older faasflow move to the state
// directory at the next `up`.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Segment } from '../../src/shm/index.js';
import { removeInstanceCgroups } from '../../src/sys/cgroups.js';
import { removeSandboxTmpDirs } from '../../src/sys/sandbox.js';
import { locationLinkFor } from '../../src/common/paths.js';
import { sessionMembers } from '../../src/common/procs.js';
import { post } from '../helpers/http.js';
import { ECHO, SECRET_READER, V2, alive, configText, project, until } from './helpers.js';


t.test('after a simulated reboot, up serves the deployed function and the secret again', async (t) => {
  const p = await project(t, 'boot');
  p.write('reader.ts', SECRET_READER);
  p.write('echo.ts', ECHO);
  p.write('v2.ts', V2);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './reader.ts', secrets: ['api-key'] }, { id: 2, handler: './echo.ts' }]"));
  t.equal((await p.cli(['secret', 'create', 'api-key'], { input: 'survives' })).code, 0);
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  const dep = await p.cli(['deploy', './v2.ts', '--id', '2']);
  t.equal(dep.code, 0, dep.stderr);
  t.equal((await post(p.port, '/function/2', 'x')).body.toString(), 'v2:x');

  // The power cut.
  const sup = p.supervisorPid()!;
  const victims = [...new Set([...sessionMembers(sup), ...p.processes()])];
  for (const pid of victims) process.kill(pid, 'SIGKILL');
  t.ok(await until(() => alive(victims).length === 0, 10_000, 'the killed processes to exit'), 'every process of the instance is gone');
  fs.rmSync(p.runtimeDir, { recursive: true, force: true });
  for (const e of Segment.ofInstance(p.instance)) if (!e.memfd) Segment.unlink(e.name);
  t.ok(removeSandboxTmpDirs(p.instance).length > 0, 'the domains\' temporary and secrets directories are removed');
  removeInstanceCgroups(p.instance);
  fs.rmSync(locationLinkFor(p.instance), { force: true });
  t.notOk(fs.existsSync(`/dev/shm/faasflow-${p.instance}`), 'no segment is left');

  const again = await p.cli(['up']);
  t.equal(again.code, 0, again.stderr);
  t.equal((await post(p.port, '/function/2', 'y')).body.toString(), 'v2:y', 'the deployed version serves again');
  t.equal((await post(p.port, '/function/1', '')).body.toString(), 'survives', 'the function reads its secret again');
  t.equal((await p.cli(['down'])).code, 0);
});

t.test('deployments in the runtime directory move to the state directory', async (t) => {
  const p = await project(t, 'mig');
  p.write('echo.ts', ECHO);
  p.write('v2.ts', V2);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './echo.ts' }]"));
  // An older faasflow kept deployments.json and bundles/ in the runtime directory.
  const old = { env: { FAASFLOW_STATE_DIR: p.runtimeDir } };
  t.equal((await p.cli(['up'], old)).code, 0);
  t.equal((await p.cli(['deploy', './v2.ts', '--id', '3'], old)).code, 0);
  t.equal((await p.cli(['down'], old)).code, 0);
  t.ok(fs.existsSync(path.join(p.runtimeDir, 'deployments.json')), 'the old layout has deployments.json in the runtime directory');

  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  const state = path.join(p.dir, 'state');
  t.notOk(fs.existsSync(path.join(p.runtimeDir, 'deployments.json')), 'it is moved out of the runtime directory');
  const moved = JSON.parse(fs.readFileSync(path.join(state, 'deployments.json'), 'utf8')) as { functions: { id: number; bundle: string }[] };
  t.same(moved.functions.map((f) => f.id), [3], 'to the state directory');
  t.ok(moved.functions[0].bundle.startsWith(`${state}/bundles/`), `its bundle with it: ${moved.functions[0].bundle}`);
  t.equal((await post(p.port, '/function/3', 'z')).body.toString(), 'v2:z', 'and the deployed function serves');
  t.equal((await p.cli(['down'])).code, 0);
});
