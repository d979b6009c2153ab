// What the queue reports about itself: to the gateways for /metrics, to the supervisor for `ps`.
import type { QueueStore } from './store.js';
import type { Dispatcher } from './dispatch.js';
import type { Callbacks } from './callbacks.js';
import type { QueueStats } from '../../common/queue-stats.js';

export type { QueueStats };


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
