import { FaasflowCommand } from '../../control/command.js';
import { listSecrets, type SecretInfo } from '../../common/secrets.js';
import { secretStore } from '../../control/secrets.js';
import { fmtBytes, textTable } from '../../observe/format.js';

export default class SecretLs extends FaasflowCommand {
  static override summary = 'List the instance\'s secrets: name, size and when each was last written. Never a value.';
  static override examples = ['<%= config.bin %> secret ls', '<%= config.bin %> secret ls --json'];

  async run(): Promise<SecretInfo[]> {
    const { flags } = await this.parse(SecretLs);
    const secrets = listSecrets(secretStore(flags.instance));
    if (secrets.length === 0) this.log(`No secrets (instance ${flags.instance}): create one with \`faasflow secret create NAME\`.`);
    else this.log(textTable(['NAME', 'SIZE', 'UPDATED'], secrets.map((s) => [s.name, fmtBytes(s.bytes), s.updated]), [1]));
    return secrets;
  }
}
