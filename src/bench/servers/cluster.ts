// The floor as a Node cluster: the primary forks `--workers` copies of hop.ts (the handler: it
// answers the body's length), which all listen on one port; on Linux the primary accepts and hands
// each connection to a worker in turn (Node's default scheduling). Reports ready with the port and
// the workers' pids once every worker listens; SIGTERM stops them all.
//   node cluster.js --workers N
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { workers: { type: 'string' } } });
const n = Math.max(1, Number(values.workers ?? 1));
cluster.setupPrimary({ exec: fileURLToPath(new URL('hop.js', import.meta.url)), args: ['--listen', 'tcp:0'] });

const workers: Worker[] = [];
let listening = 0;
let port = 0;
let stopping = false;
for (let i = 0; i < n; i++) {
  const w = cluster.fork();
  workers.push(w);
  w.on('message', (m: { type?: string; port?: number; message?: string }) => {
    if (m.type === 'failed') {
      process.send?.({ type: 'failed', message: `worker ${w.process.pid}: ${m.message}` });
      process.exit(1);
    }
    if (m.type !== 'ready') return;
    port = m.port ?? port;
    if (++listening === n) process.send?.({ type: 'ready', port, pids: workers.map((x) => x.process.pid ?? 0) });
  });
  w.on('exit', () => {
    if (!stopping) process.exit(1);
    if (workers.every((x) => x.isDead())) process.exit(0);
  });
}

const stop = (): void => {
  stopping = true;
  for (const w of workers) w.process.kill('SIGTERM');
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The harness went away without stopping us: nobody to report to.
process.on('disconnect', stop);
