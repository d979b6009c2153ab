import t from 'tap';
import { decide, recentRestarts, type ChildExit } from '../../src/runtime/supervisor/policy.js';
import type { Intensity } from '../../src/runtime/supervisor/spec.js';

const k: Intensity = { maxRestarts: 3, periodMs: 10_000, backoffMinMs: 100, backoffMaxMs: 1000 };
const crash = (at: number, o: Partial<ChildExit> = {}): ChildExit => ({ code: 1, signal: null, requested: false, at, ...o });

t.test('a requested stop is never restarted, whatever the restart type or exit', async (t) => {
  for (const r of ['permanent', 'transient', 'temporary'] as const) {
    t.equal(decide(r, [], crash(0, { requested: true, signal: 'SIGKILL', code: null }), k).action, 'none', r);
  }
});

t.test('exit code 100 means permanent failure: give up at once, even with no restarts yet', async (t) => {
  const a = decide('permanent', [], crash(0, { code: 100 }), k);
  t.equal(a.action, 'give-up');
  t.match(a.reason, /permanent failure/);
});

t.test('restart types: permanent always, transient only abnormal, temporary never', async (t) => {
  t.equal(decide('permanent', [], crash(0, { code: 0 }), k).action, 'restart');
  t.equal(decide('transient', [], crash(0, { code: 0 }), k).action, 'none');
  t.equal(decide('transient', [], crash(0, { code: 1 }), k).action, 'restart');
  t.equal(decide('transient', [], crash(0, { code: null, signal: 'SIGSEGV' }), k).action, 'restart');
  t.equal(decide('temporary', [], crash(0), k).action, 'none');
});

t.test('backoff doubles with each restart inside the window and is capped', async (t) => {
  const now = 50_000;
  const delays = [[], [now - 1], [now - 2, now - 1]].map((h) => decide('permanent', h, crash(now), { ...k, maxRestarts: 10 }));
  t.same(delays.map((a) => (a.action === 'restart' ? a.delayMs : -1)), [100, 200, 400]);
  const many = Array.from({ length: 8 }, (_, i) => now - i - 1);
  const capped = decide('permanent', many, crash(now), { ...k, maxRestarts: 100 });
  t.equal(capped.action === 'restart' && capped.delayMs, 1000);
});

t.test('crash loop: maxRestarts within the period gives up; old restarts age out', async (t) => {
  const now = 100_000;
  const inWindow = [now - 3000, now - 2000, now - 1000];
  const a = decide('permanent', inWindow, crash(now), k);
  t.equal(a.action, 'give-up');
  t.match(a.reason, /crash loop: 3 restarts within 10 s/);
  const aged = [now - 30_000, now - 20_000, now - 1000];
  const b = decide('permanent', aged, crash(now), k);
  t.equal(b.action, 'restart');
  t.equal(b.action === 'restart' && b.delayMs, 200, 'only the one recent restart counts for backoff');
  t.equal(recentRestarts(aged, now, k.periodMs), 1);
});

t.test('maxRestarts 0: the first crash gives up', async (t) => {
  t.equal(decide('permanent', [], crash(0), { ...k, maxRestarts: 0 }).action, 'give-up');
});
