// The `faasflow top` loop: follow the segment, snapshot, tail the logs, draw; once a second.
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

  const tick = () => {
    try {
      observer.functionNames = config.functionNames();
      observer.flows = config.flows();
      observer.shmWarnPercent = o.shmWarnPercent ?? config.shmWarnPercent() ?? 80;
      observer.supervisorChildren = config.children();
      const fresh: LogLine[] = tail.poll();
      for (const l of fresh) if (isProblem(l.text)) observer.note('error', l.stamped ? l.text : `[${l.source}] ${l.text}`, l.at);
      const { view, reason } = follower.current();
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
