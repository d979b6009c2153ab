// What the channel tests (40-42.ipc) ask of an instance, read straight from the kernel, the hostile
// function and its log file (quicker than a CLI call per question): which process answers for it,
// whether one was replaced, the log lines about one process.
import fs from 'node:fs';
import path from 'node:path';
import { until, type HostileContext } from './harness.js';

/** The pid of the replica that answers the hostile function's requests now (0: none answers). */
export async function answeringPid(h: HostileContext): Promise<number> {
  const r = await h.poke({ what: 'pid' });
  return r.status === 200 ? (JSON.parse(r.body.toString()) as { result: number }).result : 0;
}

/** Whether `pid` is gone and another replica answers in its place. */
export function replacedAfter(h: HostileContext, pid: number): Promise<boolean> {
  return until(async () => !fs.existsSync(`/proc/${pid}`) && ![0, pid].includes(await answeringPid(h)));
}

/** The hostile function's log lines that name process `pid`. */
export function functionLog(h: HostileContext, pid: number): string[] {
  const dir = path.join(h.inst.runtimeDir, 'logs');
  return fs.readdirSync(dir).filter((f) => f.startsWith('fn-2.log')).flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n')).filter((l) => l.includes(`[${pid}]`));
}
