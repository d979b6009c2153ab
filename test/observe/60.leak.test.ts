import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { InstanceStatus } from '../../src/common/protocol.js';
import { InstanceFollower } from '../../src/observe/follow.js';
import { ConfigReader } from '../../src/observe/runtime.js';
import { Observer, type Snapshot } from '../../src/observe/snapshot.js';
import { Segment, segmentName } from '../../src/shm/index.js';
import { post, request } from '../helpers/http.js';
import { ROOT } from '../helpers/runtime.js';
import { freePort } from '../cli/helpers.js';

const run = promisify(execFile);


t.test('a leaking function over its memoryLimit is replaced without a failed request, and the restart shows in ps, top and /metrics', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-leak-'));
  const instance = `obs-leak-${process.pid}-${randomBytes(2).toString('hex')}`;
  const port = await freePort();
  const handler = path.join(ROOT, 'test', 'observe', 'fixtures', 'leaky.ts');
  fs.writeFileSync(
    path.join(dir, 'faasflow.config.mjs'),
    `export default { gateway: { port: ${port} }, segment: { size: '64MiB' }, observe: { sampleInterval: '300ms' }, functions: [{ id: 1, name: 'leaky', handler: ${JSON.stringify(handler)}, memoryLimit: '48MiB' }] };\n`,
  );
  const env = { ...process.env, FAASFLOW_RUNTIME_DIR: path.join(dir, 'rt') };
  const cli = async (...args: string[]) => (await run(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args, '--instance', instance], { cwd: dir, env })).stdout;
  t.teardown(async () => {
    await cli('down').catch(() => undefined);
    if (Segment.exists(segmentName(instance))) Segment.unlink(segmentName(instance));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await cli('up');
  const state = () => JSON.parse(fs.readFileSync(path.join(dir, 'rt', 'state.json'), 'utf8')) as InstanceStatus;
  const first = state().children.find((c) => c.role === 'container')!;
  // Watching as `top` does, for the restart event and its reason.
  const config = new ConfigReader(path.join(dir, 'rt'));
  const follower = new InstanceFollower(instance);
  t.teardown(() => follower.close());
  const observer = new Observer({ fullSampleMs: 1000, holdersMs: 60_000 });
  const watch = () => {
    observer.supervisorChildren = config.children();
    const { view, reason } = follower.current();
    return observer.snapshot(view, instance, reason);
  };
  watch();

  const failed: string[] = [];
  let sent = 0;
  const end = Date.now() + 60000;
  let replaced = false;
  while (!replaced && Date.now() < end) {
    const r = await post(port, '/function/1', `req ${sent}`).catch((e: Error) => ({ status: 0, body: Buffer.from(e.message) }));
    sent++;
    if (r.status !== 200 || r.body.toString() !== `req ${sent - 1}`) failed.push(`${r.status} ${r.body.toString().slice(0, 100)}`);
    replaced = state().children.some((c) => c.role === 'container' && c.pid !== first.pid && c.state === 'ready' && c.restarts >= 1);
    watch();
    await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(replaced, `the replica was replaced after ${sent} requests`);
  // Keep calling across the switch-over: the old replica drains while the new one serves.
  for (let i = 0; i < 30; i++) {
    const r = await post(port, '/function/1', `after ${i}`).catch((e: Error) => ({ status: 0, body: Buffer.from(e.message) }));
    if (r.status !== 200) failed.push(`${r.status} ${r.body.toString().slice(0, 100)}`);
  }
  t.same(failed, [], 'no request failed during the restart');
  // The leak goes on in the new replica, so later replacements may follow: look at the first.
  const restarts = watch().events.filter((e) => /container 1\/0 restarted: .*\(pid \d+, 1 restart\)$/.test(e.text));
  t.equal(restarts.length, 1, 'top reports the first replacement once (old and new replica side by side are one restart)');
  // Without an exit of its own (the old process still ran): a graceful replacement.
  t.match(restarts[0]?.text, /container 1\/0 restarted: (replaced while running \(memoryLimit|replaced: private memory \d+ B is over memoryLimit)/, `and why: ${restarts[0]?.text}`);

  const ps = JSON.parse(await cli('ps', '--json')) as InstanceStatus;
  t.ok(ps.children.some((c) => c.role === 'container' && c.restarts >= 1), 'ps shows the restart');
  const snap = JSON.parse(await cli('top', '--once', '--json', '--interval', '300')) as Snapshot;
  const container = snap.processes.find((p) => p.role === 'container' && p.alive && p.pid !== first.pid);
  t.ok(container, 'top shows the new replica');
  t.ok(container!.restarts >= 1, `top shows the restart (restarts ${container?.restarts})`);
  t.ok(container!.memory!.privateBytes < 48 << 20, 'the new replica starts under the limit');

  const metrics = (await request(port, 'GET', '/metrics')).body.toString();
  const m = /^faasflow_process_restarts_total\{role="container",function="1",replica="0"\} (\d+)$/m.exec(metrics);
  t.ok(m && Number(m[1]) >= 1, `/metrics counts the restart: ${m?.[0]}`);
});
