import * as Args from '@oclif/core/args';
import { FaasflowCommand } from '../../control/command.js';
import { FaasflowError } from '../../common/errors.js';
import { removeSecret } from '../../common/secrets.js';
import { secretStore } from '../../control/secrets.js';

export default class SecretRm extends FaasflowCommand {
  static override summary = 'Remove a secret from the state directory.';
  static override description = 'Replicas already running keep their copy until they are replaced; the next `up` or `deploy` of a function that lists it fails until it is created again.';
  static override examples = ['<%= config.bin %> secret rm db-password'];
  static override args = { name: Args.string({ description: 'secret name', required: true }) };

  async run(): Promise<{ name: string; removed: boolean }> {
    const { args, flags } = await this.parse(SecretRm);
    if (!removeSecret(secretStore(flags.instance), args.name)) throw new FaasflowError('USAGE', `no secret ${args.name} (instance ${flags.instance}): \`faasflow secret ls\` lists them`);
    this.log(`secret ${args.name} removed`);
    return { name: args.name, removed: true };
  }
}
