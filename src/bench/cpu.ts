// CPU time of the processes behind a setup, from /proc/<pid>/task/*/schedstat (nanoseconds, unlike the
// 10 ms ticks of /proc/<pid>/stat). On-CPU time per request is the cost a setup puts on the
// machine whatever else runs; run-queue wait says how much other work got in the way.
import fs from 'node:fs';

export interface CpuSample {
  /** Nanoseconds on a CPU, summed over the processes. */
  cpuNs: number;
  /** Nanoseconds runnable but waiting for a CPU. */
  waitNs: number;
}

export function readCpu(pids: number[]): CpuSample {
  let cpuNs = 0;
  let waitNs = 0;
  for (const pid of pids) {
    // Every thread of the process: /proc/<pid>/schedstat alone is its main thread's, and V8's GC
    // helpers and libuv's pool do part of the work on others.
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited (a restarted replica): its time is lost, the restart will show in the errors
    }
    for (const tid of tasks) {
      try {
        const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        cpuNs += run;
        waitNs += wait;
      } catch {
        // the thread ended between the listing and the read
      }
    }
  }
  return { cpuNs, waitNs };
}

/** `root` and every process below it (a supervisor and the children it forked). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Fields after the ")" that closes the command name: state, ppid, ...
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}
