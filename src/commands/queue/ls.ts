import * as Flags from '@oclif/core/flags';
import { FaasflowCommand } from '../../control/command.js';
import { openQueue, type QueueFilter } from '../../control/queue.js';
import { ingestViaQueue } from '../../control/queue-journals.js';
import { textTable } from '../../observe/format.js';
import type { Row } from '../../runtime/queue/store.js';

export default class QueueLs extends FaasflowCommand {
  static override summary = 'List the async queue\'s requests, newest first: pending ones, finished results and dead letters.';
  static override examples = ['<%= config.bin %> queue ls', '<%= config.bin %> queue ls --state dead', '<%= config.bin %> queue ls -n 500 --json'];
  static override flags = {
    state: Flags.string({ description: 'only requests in this state', options: ['pending', 'done', 'dead', 'all'], default: 'all' }),
    limit: Flags.integer({ char: 'n', description: 'at most this many', default: 50, min: 1 }),
  };

  async run(): Promise<{ counts: Record<string, number>; requests: Row[] }> {
    const { flags } = await this.parse(QueueLs);
    // Accepted requests may still be only in the gateways' journals: a running queue reads them in
    // first; a stopped one's are read here (read-only) and shown as pending.
    const running = await ingestViaQueue(flags.instance);
    const q = await openQueue(flags.instance);
    try {
      const counts = q.counts();
      const state = flags.state as QueueFilter;
      const journaled = running ? [] : q.journaled();
      counts.pending += journaled.length;
      const requests = [...(state === 'pending' || state === 'all' ? journaled : []), ...q.list(state, flags.limit)].slice(0, flags.limit);
      const now = Date.now();
      this.log(`${counts.pending} pending, ${counts.done} done (results kept), ${counts.dead} dead letter(s)`);
      if (requests.length) {
        this.log(textTable(['ID', 'TARGET', 'STATE', 'ATTEMPTS', 'STATUS', 'AGE', 'CALLBACK', 'LAST ERROR'], requests.map((r) => [
          r.id, `${r.kind === 'flow' ? 'flow ' : ''}${r.name}`, r.state, String(r.attempts), r.status === null ? '-' : String(r.status), `${Math.round((now - r.created_at) / 1000)}s`, r.cb_state ?? '-', (r.error ?? '').slice(0, 60),
        ]), [3, 4, 5]));
      }
      return { counts, requests };
    } finally {
      await q.close();
    }
  }
}
