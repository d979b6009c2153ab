// The `faasflow top` loop: follow the segment, snapshot, tail the logs, draw; once a second.
import v8 from 'node:v8';
import { LogTail, isProblem, logFiles, type LogLine } from '../logs.js';
import { InstanceFollower } from '../follow.js';
import { ConfigReader } from '../runtime.js';
import { instanceFiles } from '../../common/paths.js';
import { Observer } from '../snapshot.js';
import { Dashboard } from './dashboard.js';

export interface TopOptions {
  instance: string;
  intervalMs: number;
  runtimeDir: string;
  /** From the flag; else the instance's config; else 80. */
  shmWarnPercent: number | null;
  /** Full /proc/<pid>/smaps samples at most this often per process. */
  fullSampleMs: number;
}

/** Runs the dashboard until the user quits. */
export async function runTop(o: TopOptions): Promise<void> {
  // The segments are listed every 5 s (a domain rebuilt meanwhile shows up to 5 s late; the instance
  // going away, at once).
  const follower = new InstanceFollower(o.instance, 5000);
  // Scanning every /proc/*/maps costs ~15 ms on a busy box: holders are rescanned every 15 s.
  const observer = new Observer({ fullSampleMs: o.fullSampleMs, holdersMs: 15000, live: true });
  // Every refresh asks for the names, flows, threshold and records: one look at the files answers all four.
  const config = new ConfigReader(o.runtimeDir, o.intervalMs / 2);
  const logs = instanceFiles(o.runtimeDir).logs;
  const tail = new LogTail(() => logFiles(logs), { initialBytes: 2048, burstBytes: 64 * 1024 });
  const hint = `(no log lines yet in ${logs})`;
  let quit: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (quit = resolve));
  const dash = new Dashboard(o.instance, hint, () => quit());

  // top runs for hours, mostly idle, doing the same small refresh once a second. Start-up and the
  // first refresh of a running instance (every panel drawn whole, every pool scanned) make its hot
  // loops hot, and V8 optimises them then; from the second such refresh on, nothing more is
  // optimised. Left on, the optimiser keeps recompiling code that is warm at one call a second (and
  // again after each deoptimisation) on a background thread the process's CPU counts: more than it
  // saves on ~10 ms of work a second. Measured on a loaded 2-vCPU machine, 160×48, example config
  // (BENCHMARKS.md): ~11 ms of CPU a second this way, 13-19 with the optimiser on throughout, 14-16
  // with --no-opt from the start (blessed's drawing loops then stay in the interpreter: twice the
  // drawing time); --lite-mode, --max-lazy and a single-threaded GC did worse than leaving it on.
  let running = 0;
  const tick = () => {
    try {
      observer.functionNames = config.functionNames();
      observer.flows = config.flows();
      observer.shmWarnPercent = o.shmWarnPercent ?? config.shmWarnPercent() ?? 80;
      observer.supervisorChildren = config.children();
      const fresh: LogLine[] = tail.poll();
      for (const l of fresh) if (isProblem(l.text)) observer.note('error', l.stamped ? l.text : `[${l.source}] ${l.text}`, l.at);
      const { view, reason } = follower.current();
      if (view && ++running === 2) v8.setFlagsFromString('--no-opt');
      dash.update(observer.snapshot(view, o.instance, reason), tail.recent(50));
    } catch (err) {
      // A half-written segment or a vanished /proc entry must not take the dashboard down.
      observer.note('error', `top: ${(err as Error).message}`);
    }
  };
  tick();
  const timer = setInterval(tick, o.intervalMs);
  try {
    await done;
  } finally {
    clearInterval(timer);
    dash.destroy();
    follower.close();
    observer.close();
  }
}
