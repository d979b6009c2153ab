import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { FaasflowCommand } from '../../control/command.js';
import { FaasflowError } from '../../common/errors.js';
import { openQueue } from '../../control/queue.js';

export default class QueueRetry extends FaasflowCommand {
  static override summary = 'Run a dead letter (or a finished request) again, from its first attempt, with the same request id.';
  static override description = 'A running queue picks it up within a fraction of a second; a stopped instance runs it at its next `up`.';
  static override examples = ['<%= config.bin %> queue retry 6f1c…', '<%= config.bin %> queue retry --dead'];
  static override args = { id: Args.string({ description: 'the request id', required: false }) };
  static override flags = { dead: Flags.boolean({ description: 'every dead letter', default: false }) };

  async run(): Promise<{ retried: number }> {
    const { args, flags } = await this.parse(QueueRetry);
    if (!args.id && !flags.dead) throw new FaasflowError('USAGE', 'name a request id, or --dead for every dead letter');
    const q = await openQueue(flags.instance, true);
    try {
      const retried = await q.retry(flags.dead ? 'dead' : [args.id!]);
      if (!retried && args.id) throw new FaasflowError('USAGE', `no finished async request ${args.id} (instance ${flags.instance}): a pending one runs anyway; \`faasflow queue ls\` lists them`);
      this.log(`${retried} request(s) pending again`);
      return { retried };
    } finally {
      await q.close();
    }
  }
}
