// functions[].scale: the config's checks and defaults, and the scaler's decisions as a pure
// function of its config, its record and the load the gateways count (time is passed in).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { configError } from '../helpers/config.js';
import { decideScale, initialScale, type ScaleState } from '../../src/runtime/supervisor/scale-policy.js';
import type { ScaleConfig } from '../../src/config/types.js';
import { podConcurrency } from '../../src/export/k8s/manifests.js';

const ECHO = 'export default async (input: Uint8Array) => input;\n';

function dirWith(t: Test, config: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-scale-'));
  fs.writeFileSync(path.join(dir, 'echo.ts'), ECHO);
  fs.writeFileSync(path.join(dir, 'faasflow.config.ts'), `export default { functions: [${config}] };\n`);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('scale resolves with defaults: min 0, target = concurrency, idle 30 s; it starts at min', async (t) => {
  const c = await loadConfig({ cwd: dirWith(t, "{ id: 1, handler: './echo.ts', concurrency: 8, scale: { max: 4 } }"), instance: 'x' });
  t.same(c.functions[0].scale, { min: 0, max: 4, target: 8, idleMs: 30_000, spares: 1 }, 'one warm spare by default at min 0');
  t.equal(c.functions[0].replicas, 0, 'no replica at the start of a function at min 0');
  const d = await loadConfig({ cwd: dirWith(t, "{ id: 1, handler: './echo.ts', scale: { min: 2, max: 5, target: 3, idle: '5s' } }"), instance: 'x' });
  t.same(d.functions[0].scale, { min: 2, max: 5, target: 3, idleMs: 5000, spares: 0 }, 'none by default above zero');
  t.equal(d.functions[0].replicas, 2);
  const fixed = await loadConfig({ cwd: dirWith(t, "{ id: 1, handler: './echo.ts' }"), instance: 'x' });
  t.equal(fixed.functions[0].replicas, 1, 'without scale: 1 replica, fixed');
  t.notOk('scale' in fixed.functions[0]);
});

t.test('export k8s: a pod counts an elastic function at max × target (its own scaler\'s ceiling)', async (t) => {
  const c = await loadConfig({ cwd: dirWith(t, "{ id: 1, handler: './echo.ts', concurrency: 8, scale: { max: 4, target: 3 } }, { id: 2, name: 'fixed', handler: './echo.ts', replicas: 2, concurrency: 5 }"), instance: 'x' });
  t.equal(podConcurrency(c), 4 * 3 + 2 * 5);
});

t.test('bad scale configs are refused naming the field and the fix', async (t) => {
  t.match(await configError(dirWith(t, "{ id: 1, handler: './echo.ts', scale: { min: 5, max: 2 } }")), /functions\[0\]\.scale\.min: min 5 is above max 2: the floor must not exceed the ceiling/);
  t.match(await configError(dirWith(t, "{ id: 1, handler: './echo.ts', replicas: 2, scale: { max: 4 } }")), /functions\[0\]\.replicas: set either replicas .* or scale .*, not both/);
  t.match(await configError(dirWith(t, "{ id: 1, handler: './echo.ts', scale: { min: 1 } }")), /functions\[0\]\.scale\.max/);
  t.match(await configError(dirWith(t, "{ id: 1, handler: './echo.ts', scale: { max: 65 } }")), /functions\[0\]\.scale\.max: must be at most 64/);
  t.match(await configError(dirWith(t, "{ id: 1, handler: './echo.ts', scale: { max: 2, target: 0 } }")), /functions\[0\]\.scale\.target: must be at least 1/);
  t.match(await configError(dirWith(t, "{ id: 1, handler: './echo.ts', scale: { max: 2, idle: '10ms' } }")), /functions\[0\]\.scale\.idle: must be from 1s to 24h/);
  t.match(await configError(dirWith(t, "{ id: 1, handler: './echo.ts', scale: { max: 2, maximum: 3 } }")), /functions\[0\]\.scale\.maximum: unknown field/);
  t.match(await configError(dirWith(t, "{ id: 1, handler: './echo.ts', scale: { max: 2, spares: 3 } }")), /functions\[0\]\.scale\.spares: 3 spares is more than max 2: .*set spares to at most 2/);
  t.match(await configError(dirWith(t, "{ id: 1, handler: './echo.ts', scale: { max: 20, spares: 9 } }")), /functions\[0\]\.scale\.spares: must be at most 8/);
});

const S: ScaleConfig = { min: 0, max: 4, target: 10, idleMs: 2000, spares: 1 };
/** Feeds one load sample every 100 ms from `from` for `ms`; returns the decisions that changed the count. */
function run(s: ScaleConfig, st: ScaleState, from: number, ms: number, load: number): { at: number; desired: number }[] {
  const out: { at: number; desired: number }[] = [];
  for (let at = from; at < from + ms; at += 100) {
    const was = st.desired;
    const d = decideScale(s, st, at, load);
    if (d.desired !== was) out.push({ at, desired: d.desired });
  }
  return out;
}

t.test('from zero: the first sample with demand starts replicas at once', async (t) => {
  const st = initialScale(S, 0, 0);
  t.same(run(S, st, 0, 1000, 0), [], 'idle at zero stays at zero');
  const d = decideScale(S, st, 1000, 1);
  t.same([d.desired, d.reason], [1, '1 request(s) waiting at zero']);
  const st2 = initialScale(S, 0, 0);
  t.equal(decideScale(S, st2, 0, 25).desired, 3, '25 waiting at target 10: 3 at once');
  t.equal(decideScale(S, initialScale(S, 0, 0), 0, 1000).desired, 4, 'never above max');
});

t.test('up within a second of sustained load, never above max; a short spike does not scale', async (t) => {
  const st = initialScale(S, 1, 0);
  t.same(run(S, st, 0, 2000, 5), [], 'under target: stays');
  t.same(run(S, st, 2000, 100, 50), [], 'a 100 ms spike to 50 in flight averages to 9.5 over the second: one replica carries it');
  t.same(run(S, st, 2100, 900, 5), []);
  const ups = run(S, st, 3000, 3000, 35);
  t.ok(ups.length > 0 && ups.at(-1)!.at - 3000 <= 1000, `scaled up to 4 within a second: ${JSON.stringify(ups)}`);
  t.equal(st.desired, 4, '35 in flight at target 10: 4');
  t.same(run(S, st, 6000, 2000, 400), [], 'more load: stays at max');
  t.equal(st.desired, 4);
});

t.test('down only after a whole idle window below what fewer replicas carry, step by step to min', async (t) => {
  const st = initialScale(S, 4, 0);
  t.same(run(S, st, 0, 1900, 0), [], 'not before the idle window has passed');
  const downs = run(S, st, 1900, 10_000, 0);
  t.same(downs.map((d) => d.desired), [0], 'idle: straight to min');
  t.ok(downs[0].at >= 2000, `after the window (${downs[0].at} ms)`);
  const m: ScaleConfig = { ...S, min: 2 };
  const st2 = initialScale(m, 4, 0);
  run(m, st2, 0, 5000, 0);
  t.equal(st2.desired, 2, 'never below min');
  const st3 = initialScale(S, 4, 0);
  const steps = run(S, st3, 0, 2500, 15);
  t.same(steps.map((d) => d.desired), [2], '15 in flight at target 10: down to 2');
  t.same(run(S, st3, 2500, 1000, 0), [], 'the next step down waits a whole window again');
  t.equal(st3.desired, 2);
  t.same(run(S, st3, 3500, 2000, 0).map((d) => d.desired), [0]);
});

t.test('a load that comes back inside the window keeps the replicas; bad samples count as no load', async (t) => {
  const st = initialScale(S, 3, 0);
  for (let at = 0; at < 10_000; at += 100) decideScale(S, st, at, at % 1500 === 0 ? 30 : 0);
  t.equal(st.desired, 3, 'a burst every 1.5 s (window 2 s) keeps 3');
  const st2 = initialScale(S, 0, 0);
  for (const bad of [NaN, -5, Infinity]) t.equal(decideScale(S, st2, 0, bad).desired, 0, `${bad} is no demand`);
});
