// What the queue reports about itself: to the gateways for /metrics, to the supervisor for `ps`.
import type { QueueStore } from './store.js';
import type { Dispatcher } from './dispatch.js';
import type { Callbacks } from './callbacks.js';

export interface QueueStats {
  /** Accepted and not finished (waiting, running, or waiting for a retry). */
  pending: number;
  /** Age in seconds of the oldest pending request (0: none). */
  oldestAgeSeconds: number;
  running: number;
  /** Dead letters kept (until `faasflow queue purge`). */
  deadLetters: number;
  /** Finished results kept for GET /async-result. */
  results: number;
  callbacksInFlight: number;
  /** Since the store was made: accepted, completed, retries, dead_letters, callback_failures. */
  counters: Record<string, number>;
  /** Commits that failed since this process started. */
  commitFailures: number;
}

export function queueStats(store: QueueStore, d: Dispatcher, cb: Callbacks, _startedAt: number): QueueStats {
  const depth = store.depth();
  return {
    pending: depth.pending,
    oldestAgeSeconds: depth.oldest ? Math.max(0, (Date.now() - depth.oldest) / 1000) : 0,
    running: d.inFlight,
    deadLetters: depth.dead,
    results: depth.done,
    callbacksInFlight: cb.inFlight,
    counters: store.counters(),
    commitFailures: store.failures,
  };
}
