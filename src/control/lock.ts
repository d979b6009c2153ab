// One `faasflow up` of an instance at a time. Two at once would each see no instance, each start
// a supervisor, and each one's failure cleanup would tear down the other's files.
import fs from 'node:fs';
import path from 'node:path';
import { FaasflowError } from './errors.js';
import type { InstancePaths } from './paths.js';
import { processAlive } from './procs.js';

/** Takes the instance's start lock; returns its release. A lock whose holder died is taken over. */
export function lockStart(p: InstancePaths): () => void {
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const file = path.join(p.dir, 'up.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => {
        if (holder(file) === process.pid) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // The holder creates the file, then writes its pid: an empty file is a lock being taken.
      let pid = holder(file);
      for (let waited = 0; pid === 0 && waited < 1000 && fs.existsSync(file); waited += 20) {
        Atomics.wait(PAUSE, 0, 0, 20);
        pid = holder(file);
      }
      if (pid && pid !== process.pid && processAlive(pid)) {
        throw new FaasflowError('ALREADY_RUNNING', `another \`faasflow up\` of instance "${p.instance}" is in progress (pid ${pid}): wait for it to finish, then \`faasflow ps --instance ${p.instance}\``);
      }
      // Left by an `up` that died: take it over.
      fs.rmSync(file, { force: true });
    }
  }
  throw new FaasflowError('ALREADY_RUNNING', `could not take the start lock ${file}: another \`faasflow up\` keeps taking it`);
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

function holder(file: string): number {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
