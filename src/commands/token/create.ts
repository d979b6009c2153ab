import * as Args from '@oclif/core/args';
import { FaasflowCommand } from '../../control/command.js';
import { createToken } from '../../common/tokens.js';
import { authOffNote, instanceTokens } from '../../control/tokens.js';

export interface TokenCreated {
  name: string;
  token: string;
  created: string;
  file: string;
}

export default class TokenCreate extends FaasflowCommand {
  static override summary = 'Create a bearer token for the gateway (gateway.auth) and print it once.';
  static override description =
    'Prints the token (ff_ and 43 characters) on standard output, the only time it is shown: keep it in your secret store. The instance keeps only its SHA-256, with NAME and the date, in tokens.json (mode 0600). Running gateways accept it within a second, without a restart. Clients send it as "Authorization: Bearer <token>"; NAME is the caller in the access log.';
  static override examples = ['<%= config.bin %> token create ci', 'curl -H "Authorization: Bearer $(<%= config.bin %> token create web)" -d hi http://127.0.0.1:8080/function/echo'];
  static override args = {
    name: Args.string({ required: true, description: 'who uses the token (1-63 letters, digits, "_", "-", ".")' }),
  };

  async run(): Promise<TokenCreated> {
    const { args, flags } = await this.parse(TokenCreate);
    const p = await this.locate(flags);
    const file = instanceTokens(p);
    const { token, entry } = createToken(file, args.name);
    if (!this.jsonEnabled()) {
      this.log(token);
      this.logToStderr(`token "${entry.name}" created; it is not shown again (only its hash is kept, in ${file})`);
      const note = authOffNote(p);
      if (note) this.logToStderr(note);
    }
    return { name: entry.name, token, created: entry.created, file };
  }
}
