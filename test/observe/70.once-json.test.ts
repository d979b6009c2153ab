import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import type { InstanceStatus } from '../../src/common/protocol.js';
import { InstanceFollower } from '../../src/observe/follow.js';
import { ConfigReader } from '../../src/observe/runtime.js';
import { Observer, type Snapshot } from '../../src/observe/snapshot.js';
import { post } from '../helpers/http.js';
import { ROOT } from '../helpers/runtime.js';
import { ECHO, configText, project, until } from '../cli/helpers.js';

/**
 * Every field path in `v`, with whether it holds an object: "functions[]" for an array (its
 * elements merged), "functions[].latencyUs.total.p50".
 */
function paths(v: unknown, prefix = '', out = new Map<string, boolean>()): Map<string, boolean> {
  if (v === null || typeof v !== 'object') return out;
  for (const [k, x] of Object.entries(v)) {
    const p = `${prefix ? `${prefix}.` : ''}${k}${Array.isArray(x) ? '[]' : ''}`;
    out.set(p, (out.get(p) ?? false) || (x !== null && typeof x === 'object' && !Array.isArray(x)));
    if (Array.isArray(x)) for (const e of x) paths(e, p, out);
    else paths(x, p, out);
  }
  return out;
}

/**
 * The README's `top --once --json` table: each row's paths (first column; "`shm.total` /
 * `.used`" is shm.total and shm.used) and the names its text puts in backticks, which document
 * the fields of an object row ("`{count, p50, p99, mean, max}`").
 */
function documented(readme: string): { rows: Map<string, Set<string>>; section: string } {
  const start = readme.indexOf('#### `top --once --json` fields');
  const end = readme.indexOf('\n### ', start);
  const section = readme.slice(start, end);
  const rows = new Map<string, Set<string>>();
  for (const line of section.split('\n')) {
    const cells = line.split(' | ');
    if (!line.startsWith('| `') || cells.length < 2) continue;
    const names = new Set([...cells.slice(1).join(' | ').matchAll(/`([^`]+)`/g)].flatMap((m) => m[1].match(/[A-Za-z0-9_]+/g) ?? []));
    let base = '';
    for (const [, p] of cells[0].matchAll(/`([^`]+)`/g)) {
      const full = p.startsWith('.') ? `${base.slice(0, base.lastIndexOf('.'))}${p}` : p;
      if (!p.startsWith('.')) base = p;
      rows.set(full, names);
    }
  }
  return { rows, section };
}

/**
 * Whether `p` is a row, or lies under a row whose text names each of its remaining parts; an
 * object ("shm") also when rows document its fields ("shm.path").
 */
function isDocumented(p: string, isObject: boolean, rows: Map<string, Set<string>>): boolean {
  if (rows.has(p)) return true;
  if (isObject && [...rows.keys()].some((r) => r.startsWith(`${p}.`))) return true;
  for (const [row, names] of rows) {
    if (!p.startsWith(`${row}.`)) continue;
    const rest = p.slice(row.length + 1).split('.').map((s) => s.replace(/\[\]$/, ''));
    if (rest.every((s) => names.has(s))) return true;
  }
  return false;
}

t.test('top --once --json: why a replica restarted (the supervisor’s lastExit), in the JSON and the events', async (t) => {
  const p = await project(t, 'once');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'echo', handler: './echo.ts', replicas: 2 }]"));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);
  t.teardown(() => p.cli(['down']).then(() => undefined));
  for (let i = 0; i < 10; i++) await post(p.port, '/function/1', `hi ${i}`);

  // An Observer fed the way `top` feeds it: the segment, and the runtime directory's files.
  const config = new ConfigReader(p.runtimeDir);
  const follower = new InstanceFollower(p.instance);
  t.teardown(() => follower.close());
  const observer = new Observer({ fullSampleMs: 60_000, holdersMs: 60_000 });
  const snap = () => {
    observer.functionNames = config.functionNames();
    observer.supervisorChildren = config.children();
    const { view, reason } = follower.current();
    return observer.snapshot(view, p.instance, reason);
  };
  const replica0 = (s: Snapshot) => s.processes.filter((x) => x.role === 'container' && x.functionId === 1 && x.replica === 0);
  const [victim] = replica0(snap());
  t.ok(victim, 'replica 0 of function 1 is in the table');
  t.equal(victim.lastExit, null, 'it never exited: no lastExit');

  process.kill(victim.pid, 'SIGKILL');
  const after = await until(() => {
    const s = snap();
    const ready = replica0(s).some((x) => x.pid !== victim.pid && x.alive && x.state === 'ready');
    return ready && s.events.some((e) => /container 1\/0 restarted/.test(e.text)) ? s : null;
  }, 30_000, 'the replica to be restarted and its event');
  if (!after) throw new Error('unreachable: until() returns a snapshot or throws');
  const restarted = replica0(after).find((x) => x.pid !== victim.pid)!;
  t.equal(restarted.restarts, 1);
  t.match(restarted.lastExit, /^killed by SIGKILL; restart 1\/\d+/, `lastExit says why: ${restarted.lastExit}`);
  const event = after.events.find((e) => /container 1\/0 restarted/.test(e.text));
  t.match(event?.text, new RegExp(`container 1/0 restarted: killed by SIGKILL \\(pid ${restarted.pid}, 1 restart\\)$`), `the restart event names the reason: ${event?.text}`);
  t.equal(after.events.filter((e) => /restarted/.test(e.text)).length, 1, 'one event for one restart');

  const once = JSON.parse((await p.cli(['top', '--once', '--interval', '200'], { json: true })).stdout) as Snapshot;
  const json = once.processes.find((x) => x.pid === restarted.pid);
  t.match(json?.lastExit, /^killed by SIGKILL; restart 1\//, 'top --once --json has lastExit');
  t.same(once.processes.filter((x) => x.pid !== restarted.pid).map((x) => x.lastExit), once.processes.filter((x) => x.pid !== restarted.pid).map(() => null), 'null for processes that never exited');
  const ps = JSON.parse((await p.cli(['ps'], { json: true })).stdout) as InstanceStatus;
  t.equal(json?.lastExit, ps.children.find((c) => c.pid === restarted.pid)?.lastExit, 'the same text `ps` has');
  const text = await p.cli(['top', '--once', '--interval', '200']);
  t.match(text.stdout, new RegExp(`Last exits[^\\n]*\\n  container 1/0 \\(pid ${restarted.pid}\\): killed by SIGKILL; restart 1/`), 'the text output shows it too');
});

t.test('README documents every field of a real `top --once --json`, and nothing that is not in it', async (t) => {
  const p = await project(t, 'doc');
  p.write('echo.ts', ECHO);
  p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, name: 'echo', handler: './echo.ts' }]"));
  const waiting = JSON.parse((await p.cli(['top', '--once', '--interval', '200'], { json: true })).stdout) as Snapshot;
  t.equal(waiting.status, 'waiting');
  const up = await p.cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);
  t.teardown(() => p.cli(['down']).then(() => undefined));
  for (let i = 0; i < 5; i++) await post(p.port, '/function/1', `hi ${i}`);
  const running = JSON.parse((await p.cli(['top', '--once', '--interval', '300'], { json: true })).stdout) as Snapshot;
  t.equal(running.status, 'running');
  t.ok(running.processes.every((x) => x.memory) && running.segment!.holders.length > 0 && running.events.length > 0, 'a snapshot with every part filled');

  const { rows, section } = documented(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  t.ok(rows.size > 40, `README's field table found (${rows.size} paths)`);
  const real = new Map([...paths(waiting), ...paths(running)]);
  const undocumented = [...real].filter(([x, isObject]) => !isDocumented(x, isObject, rows)).map(([x]) => x).sort();
  t.same(undocumented, [], 'every field path of the JSON is documented in the README');
  const missing = [...rows.keys()].filter((r) => !real.has(r)).sort();
  t.same(missing, [], 'every path the README documents is in the JSON');
  t.match(section, /`processes\[\]\.lastExit`/, 'lastExit among them');
});
