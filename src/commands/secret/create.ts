import fs from 'node:fs';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { FaasflowCommand } from '../../control/command.js';
import { FaasflowError } from '../../common/errors.js';
import { checkSecretName, MAX_SECRET_BYTES, writeSecret } from '../../common/secrets.js';
import { secretStore } from '../../control/secrets.js';

export default class SecretCreate extends FaasflowCommand {
  static override summary = 'Create or replace a secret: its value from standard input or --from-file, stored with mode 0600 in the state directory.';
  static override description = 'The value is kept byte for byte (a trailing newline too: use printf, not echo). A function reads it with ctx.secret(NAME) when the config lists NAME in its `secrets`; replicas started from now on get the new value. The value never appears in the config, the logs, `ps`, an environment or an export.';
  static override examples = ['printf %s "$DB_PASSWORD" | <%= config.bin %> secret create db-password', '<%= config.bin %> secret create tls-key --from-file ./key.pem'];
  static override args = { name: Args.string({ description: 'secret name: 1-63 lower-case letters, digits or "-"', required: true }) };
  static override flags = {
    'from-file': Flags.string({ char: 'f', description: 'read the value from this file instead of standard input' }),
  };

  async run(): Promise<{ name: string; bytes: number; replaced: boolean }> {
    const { args, flags } = await this.parse(SecretCreate);
    const name = checkSecretName(args.name);
    const store = secretStore(flags.instance);
    const value = flags['from-file'] ? readFile(flags['from-file']) : await readStdin(name);
    if (value.length === 0) throw new FaasflowError('USAGE', `the value of secret ${name} is empty: pipe it in (printf %s "$VALUE" | faasflow secret create ${name}) or pass --from-file FILE`);
    const replaced = writeSecret(store, name, value);
    if (!this.jsonEnabled()) this.log(`secret ${name} ${replaced ? 'replaced' : 'created'} (${value.length} bytes)${replaced ? '; replicas started from now on read the new value' : ''}`);
    return { name, bytes: value.length, replaced };
  }
}

function readFile(file: string): Buffer {
  try {
    const st = fs.statSync(file);
    if (st.size > MAX_SECRET_BYTES) throw new FaasflowError('USAGE', `${file} is ${st.size} bytes: a secret holds at most ${MAX_SECRET_BYTES} bytes (64 KiB)`);
    return fs.readFileSync(file);
  } catch (err) {
    if (err instanceof FaasflowError) throw err;
    throw new FaasflowError('USAGE', `cannot read --from-file ${file}: ${(err as Error).message}`);
  }
}

/** Standard input to its end, stopping (with an error) past the size limit rather than reading on. */
async function readStdin(name: string): Promise<Buffer> {
  if (process.stdin.isTTY) process.stderr.write(`value of secret ${name} (end with Ctrl-D; typed characters are shown):\n`);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_SECRET_BYTES) throw new FaasflowError('USAGE', `the value of secret ${name} is over ${MAX_SECRET_BYTES} bytes (64 KiB), the most a secret holds`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
