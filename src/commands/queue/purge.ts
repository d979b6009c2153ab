import * as Flags from '@oclif/core/flags';
import { FaasflowCommand } from '../../control/command.js';
import { openQueue } from '../../control/queue.js';
import { ingestViaQueue } from '../../control/queue-journals.js';

export default class QueuePurge extends FaasflowCommand {
  static override summary = 'Remove the dead letters and the finished results from the async queue.';
  static override description = 'Requests not run yet stay (they were accepted with a 202), unless --pending says to drop them too.';
  static override examples = ['<%= config.bin %> queue purge', '<%= config.bin %> queue purge --pending'];
  static override flags = { pending: Flags.boolean({ description: 'also drop requests that have not run yet (their clients were told 202)', default: false }) };

  async run(): Promise<Record<string, number>> {
    const { flags } = await this.parse(QueuePurge);
    // Pending requests may still be only in the gateways' journals: a running queue reads them in
    // first; a stopped one's are dropped with the store's (purged means purged at the next start).
    const running = flags.pending && await ingestViaQueue(flags.instance);
    const q = await openQueue(flags.instance, true);
    try {
      const removed = await q.purge(flags.pending, flags.pending && !running);
      this.log(`removed ${removed.dead} dead letter(s), ${removed.done} result(s)${flags.pending ? `, ${removed.pending} pending request(s)` : ''}`);
      return removed;
    } finally {
      await q.close();
    }
  }
}
