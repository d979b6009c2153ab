import { FaasflowCommand } from '../../control/command.js';
import { readTokens } from '../../common/tokens.js';
import { authOffNote, instanceTokens } from '../../control/tokens.js';
import { textTable } from '../../observe/format.js';

export interface TokenList {
  file: string;
  tokens: { name: string; created: string }[];
}

export default class TokenLs extends FaasflowCommand {
  static override summary = "List the instance's bearer tokens: names and creation dates (never the tokens or their hashes).";
  static override examples = ['<%= config.bin %> token ls', '<%= config.bin %> token ls --json'];

  async run(): Promise<TokenList> {
    const { flags } = await this.parse(TokenLs);
    const p = await this.locate(flags);
    const file = instanceTokens(p);
    const tokens = readTokens(file).map((t) => ({ name: t.name, created: t.created }));
    if (!this.jsonEnabled()) {
      if (tokens.length) this.log(textTable(['NAME', 'CREATED'], tokens.map((t) => [t.name, t.created])));
      else this.log(`no tokens for instance "${p.instance}": \`faasflow token create NAME\` makes one`);
      const note = authOffNote(p);
      if (note) this.logToStderr(note);
    }
    return { file, tokens };
  }
}
