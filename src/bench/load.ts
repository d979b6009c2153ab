// The load generator: a child process of its own per cell, so its heap starts clean (16 MiB
// bodies make a lot of garbage) and the harness process stays out of the measured path.
// autocannon drives the connections; we record every response's latency ourselves because
// autocannon's histogram keeps whole milliseconds, and the 1 KiB case lives around 100 µs.
// It also reads the CPU time the setup's processes (--pids) spent during the measurement.
//   node load.js --url URL --size BYTES --connections N --duration S --warmup S --pids P,P,...
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';
import { summarize } from './summary.js';
import { readCpu } from './cpu.js';
import type { CellResult } from './types.js';

/** What the load process reports: the measured part of a CellResult. */
export type LoadResult = { type: 'result' } & Pick<CellResult, 'seconds' | 'latency' | 'rps' | 'non2xx' | 'errors' | 'timeouts' | 'cpu'>;

const { values } = parseArgs({
  options: { url: { type: 'string' }, size: { type: 'string' }, connections: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' }, pids: { type: 'string' } },
});
const url = values.url ?? '';
const body = Buffer.alloc(Number(values.size), 'x');
const connections = Number(values.connections);
const duration = Number(values.duration);
const warmup = Number(values.warmup ?? 0);
const pids = (values.pids ?? '').split(',').filter(Boolean).map(Number);

const options = (run: { duration: number } | { amount: number }): autocannon.Options => ({
  ...run,
  url,
  method: 'POST',
  headers: { 'content-type': 'application/octet-stream' },
  body,
  connections,
  // A 16 MiB body through three copying hops, 32 at a time, can take seconds.
  timeout: 60,
  // autocannon stops only on a sample tick: the default 1 s tick would stretch a 0.5 s warm-up to 1 s.
  sampleInt: 100,
});

/**
 * autocannon ends a timed run by dropping the requests in flight, which the servers may go on
 * working through (32 × 16 MiB through the copy chain is a second of CPU). One more request per
 * connection, each awaited, queues behind that backlog on the same event loops, so its answers
 * come back once the backlog is worked off: the measurement does not start on a busy setup, and
 * the next cell (another setup) does not share the cores with this one's leftovers.
 */
const settle = (): Promise<autocannon.Result> => autocannon(options({ amount: connections }));

async function measure(): Promise<LoadResult> {
  if (warmup > 0) await autocannon(options({ duration: warmup }));
  await settle();
  let samples = new Float64Array(1 << 16);
  let n = 0;
  let instance!: autocannon.Instance;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options({ duration }), (err: Error | null, r: autocannon.Result) => (err ? reject(err) : resolve(r)));
  });
  const t0 = performance.now();
  const server0 = readCpu(pids);
  const self0 = process.cpuUsage();
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status < 200 || status >= 300) return;
    if (n === samples.length) {
      const grown = new Float64Array(samples.length * 2);
      grown.set(samples);
      samples = grown;
    }
    samples[n++] = ms * 1000;
  });
  const result = await done;
  const seconds = (performance.now() - t0) / 1000;
  const server1 = readCpu(pids);
  const self1 = process.cpuUsage(self0);
  await settle();
  return {
    type: 'result',
    seconds,
    latency: summarize(samples.subarray(0, n)),
    rps: n / seconds,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cpu: { serverUs: (server1.cpuNs - server0.cpuNs) / 1000, serverWaitUs: (server1.waitNs - server0.waitNs) / 1000, loadUs: self1.user + self1.system },
  };
}

measure().then(
  (r) => process.send?.(r, () => process.exit(0)),
  (err: Error) => {
    process.send?.({ type: 'failed', message: err.message }, () => process.exit(1));
  },
);
