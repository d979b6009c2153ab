import * as Args from '@oclif/core/args';
import { FaasflowCommand } from '../../control/command.js';
import { removeToken } from '../../common/tokens.js';
import { instanceTokens } from '../../control/tokens.js';

export default class TokenRm extends FaasflowCommand {
  static override summary = 'Revoke a bearer token: running gateways refuse it (401) within a second.';
  static override examples = ['<%= config.bin %> token rm ci'];
  static override args = {
    name: Args.string({ required: true, description: 'the token\'s name (`faasflow token ls`)' }),
  };

  async run(): Promise<{ name: string; created: string }> {
    const { args, flags } = await this.parse(TokenRm);
    const gone = removeToken(instanceTokens(await this.locate(flags)), args.name);
    if (!this.jsonEnabled()) this.log(`token "${gone.name}" (created ${gone.created}) removed`);
    return { name: gone.name, created: gone.created };
  }
}
