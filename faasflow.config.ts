// The example config: what `faasflow up` serves with no config file at all, spelled out with
// every setting at its default. Sizes take numbers (bytes) or '64KiB' / '512MiB' / '1GiB';
// durations take numbers (ms) or '500ms' / '30s' / '2m'. Handler paths are relative to this file.
import { defineConfig } from 'faasflow';

export default defineConfig({
  functions: [
    // `curl -X POST localhost:8080/function/1 -d 'Hello World'`
    { id: 1, name: 'echo', handler: './functions/echo.ts' },
    { id: 2, name: 'uppercase', handler: './functions/uppercase.ts' },
    { id: 3, name: 'json-transform', handler: './functions/json-transform.ts' },
    { id: 4, name: 'sha256', handler: './functions/sha256.ts' },
    // `curl -X POST 'localhost:8080/function/5?w=200' --data-binary @cat.jpg -o small.jpg`
    { id: 5, name: 'resize', handler: './functions/resize.ts', replicas: 1, concurrency: 16, timeout: '30s', memoryLimit: 0, env: {}, domain: 'images' },
    // Steps of the flows below. Functions in one domain hand packets on without a copy.
    { id: 6, name: 'watermark', handler: './functions/watermark.ts', domain: 'images' },
    { id: 7, name: 'compress', handler: './functions/compress.ts', domain: 'images' },
    { id: 8, name: 'text-stats', handler: './functions/text-stats.ts', domain: 'text' },
    { id: 9, name: 'entropy', handler: './functions/entropy.ts', domain: 'text' },
    { id: 10, name: 'merge', handler: './functions/merge.ts', domain: 'text' },
    { id: 11, name: 'join', handler: './functions/join.ts' },
  ],
  // POST /flow/<name>: each step's output is the next step's input; a `parallel` group gives every
  // branch the same input and the step after it their outputs as ctx.inputs.
  flows: [
    // `curl -X POST localhost:8080/flow/shout -d 'Hello World'`: the SHA-256 of 'HELLO WORLD'
    { name: 'shout', steps: ['uppercase', 'sha256'] },
    { name: 'both', steps: [{ parallel: ['echo', 'uppercase'] }, 'join'] },
    // `curl -X POST 'localhost:8080/flow/thumbnail?w=320&text=hi' --data-binary @cat.jpg -o thumb.webp`
    { name: 'thumbnail', steps: ['resize', 'watermark', 'compress'], timeout: '30s' },
    // `curl -X POST localhost:8080/flow/analyze --data-binary @README.md`
    { name: 'analyze', steps: [{ parallel: ['text-stats', 'entropy', 'sha256'] }, 'merge'] },
  ],
  gateway: { host: '127.0.0.1', port: 8080, requestTimeout: '60s' },
  proxy: { queueLimit: 1024 },
  // Split over the domains: each domain's share is the bytes of packets it may hold at once, any
  // mix of sizes; a short domain makes work wait up to `wait`, then answers 503.
  segment: { size: '1GiB', wait: '5s', maxFunctions: 64, procSlots: 128 },
  logs: { maxSize: '10MiB', keep: 3 },
  supervisor: { maxRestarts: 5, period: '60s', backoffMin: '100ms', backoffMax: '10s', shutdownTimeout: '10s', readyTimeout: '30s' },
  observe: { shmWarnPercent: 80, sampleInterval: '2s' },
});
