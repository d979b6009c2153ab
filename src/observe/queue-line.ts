// The async queue in one line, for `ps` (and `top`): what waits, how old the oldest is, what ran
// and failed. From the stats the queue process last reported to the supervisor.
import type { QueueStats } from '../common/queue-stats.js';
import { fmtCount, fmtDuration } from './format.js';

export function queueLine(q: QueueStats): string {
  const c = q.counters ?? {};
  const n = (k: string) => fmtCount(c[k] ?? 0);
  return [
    `QUEUE  ${fmtCount(q.pending)} pending${q.pending ? ` (oldest ${fmtDuration(q.oldestAgeSeconds)})` : ''}, ${fmtCount(q.running)} running, ${fmtCount(q.deadLetters)} dead letter(s), ${fmtCount(q.results)} result(s) kept`,
    `accepted ${n('accepted')}, completed ${n('completed')}, retries ${n('retries')}, dead-lettered ${n('dead_letters')}, callback failures ${n('callback_failures')}${q.commitFailures ? `, COMMIT FAILURES ${fmtCount(q.commitFailures)}` : ''}`,
  ].join('; ');
}
