// What the async queue process reports about itself: to the gateways for /metrics, to the supervisor for `ps`.
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
