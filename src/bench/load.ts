// The load generator: a child process of its own per cell, so its heap starts clean (16 MiB
// bodies make a lot of garbage) and the harness process stays out of the measured path.
// autocannon drives the connections; we record every response's latency ourselves because
// autocannon's histogram keeps whole milliseconds, and the 1 KiB case lives around 100 µs.
//   node load.js --url URL --size BYTES --connections N --duration S --warmup S
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';
import { summarize } from './summary.js';
import type { LatencySummary } from './types.js';

export interface LoadResult {
  type: 'result';
  seconds: number;
  latency: LatencySummary;
  rps: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

const { values } = parseArgs({
  options: { url: { type: 'string' }, size: { type: 'string' }, connections: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' } },
});
const url = values.url ?? '';
const body = Buffer.alloc(Number(values.size), 'x');
const connections = Number(values.connections);
const duration = Number(values.duration);
const warmup = Number(values.warmup ?? 0);

const options = (seconds: number): autocannon.Options => ({
  url,
  method: 'POST',
  headers: { 'content-type': 'application/octet-stream' },
  body,
  connections,
  duration: seconds,
  // A 16 MiB body through three copying hops, 32 at a time, can take seconds.
  timeout: 60,
  // autocannon stops only on a sample tick: the default 1 s tick would stretch a 0.5 s warm-up to 1 s.
  sampleInt: 100,
});

async function measure(): Promise<LoadResult> {
  if (warmup > 0) await autocannon(options(warmup));
  let samples = new Float64Array(1 << 16);
  let n = 0;
  let instance!: autocannon.Instance;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options(duration), (err: Error | null, r: autocannon.Result) => (err ? reject(err) : resolve(r)));
  });
  const t0 = performance.now();
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
  return {
    type: 'result',
    seconds,
    latency: summarize(samples.subarray(0, n)),
    rps: n / seconds,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

measure().then(
  (r) => process.send?.(r, () => process.exit(0)),
  (err: Error) => {
    process.send?.({ type: 'failed', message: err.message }, () => process.exit(1));
  },
);
