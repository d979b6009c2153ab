// Preloaded with NODE_OPTIONS=--import (Node 20 refuses --cpu-prof in NODE_OPTIONS, and the
// processes `faasflow up` starts take their flags from the environment only): profiles the
// whole life of the process and writes <dir>/cpu-<pid>.cpuprofile when it exits.
import fs from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

export const PROFILE_DIR_ENV = 'FAASFLOW_BENCH_PROFILE_DIR';
/** µs between samples: 1 ms (V8's default) is too coarse for requests that take 50 µs. */
const INTERVAL_US = 100;

const dir = process.env[PROFILE_DIR_ENV];
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: INTERVAL_US });
  session.post('Profiler.start');
  // A session in the process's own thread answers synchronously, so this works inside 'exit'.
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (!err) fs.writeFileSync(path.join(dir, `cpu-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
