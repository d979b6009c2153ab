// The async queue's part of GET /metrics, asked of the queue process at each scrape and rendered
// by prom-client like the rest. A queue that does not answer says so in faasflow_async_queue_up.
import { Counter, Gauge, Registry } from 'prom-client';
import type { QueueStats } from '../common/queue-stats.js';

export async function queueMetrics(queue: { stats(): Promise<Record<string, unknown>> }): Promise<string> {
  const reg = new Registry();
  const gauge = (name: string, help: string, v: number) => new Gauge({ name, help, registers: [reg] }).set(v);
  const counter = (name: string, help: string, v: number) => new Counter({ name, help, registers: [reg] }).inc(Math.max(0, v));
  let s: QueueStats | undefined;
  try {
    s = (await queue.stats()) as unknown as QueueStats;
  } catch {
    s = undefined;
  }
  gauge('faasflow_async_queue_up', 'Whether the async queue process answered this scrape (1) or not (0).', s ? 1 : 0);
  if (s) {
    const c = s.counters ?? {};
    gauge('faasflow_async_queue_depth', 'Accepted async requests not finished: waiting, running or waiting for a retry.', s.pending);
    gauge('faasflow_async_queue_oldest_age_seconds', 'Age of the oldest unfinished async request (0: none).', s.oldestAgeSeconds);
    gauge('faasflow_async_running', 'Async requests running now.', s.running);
    gauge('faasflow_async_dead_letters', 'Dead letters kept (retries or maxAge ran out), until `faasflow queue purge`.', s.deadLetters);
    gauge('faasflow_async_results', 'Finished results kept for GET /async-result (async.keepResults).', s.results);
    gauge('faasflow_async_callbacks_in_flight', 'Callback POSTs to X-Callback-Url under way now.', s.callbacksInFlight);
    counter('faasflow_async_accepted_total', 'Async requests accepted (answered 202).', c.accepted ?? 0);
    counter('faasflow_async_completed_total', 'Async requests finished with a 2xx-4xx answer.', c.completed ?? 0);
    counter('faasflow_async_retries_total', 'Attempts that failed (5xx, 429, timeout) and were scheduled again.', c.retries ?? 0);
    counter('faasflow_async_dead_letters_total', 'Async requests that became dead letters.', c.dead_letters ?? 0);
    counter('faasflow_async_commit_failures_total', 'Commits of the queue\'s store that failed (a full disk) since the queue process started: their requests were answered 503.', s.commitFailures ?? 0);
    counter('faasflow_async_callback_failures_total', 'Callback POSTs to X-Callback-Url that failed (each attempt).', c.callback_failures ?? 0);
  }
  return reg.metrics();
}
