// ctx.secret(name): a secret the function names in functions[].secrets, read from the copy the
// supervisor gave its domain ($FAASFLOW_SECRETS_DIR, readable by this domain only). Read each
// time, not kept: a replica started after `faasflow secret create` replaced a value reads the new one.
import fs from 'node:fs';
import path from 'node:path';
import { ENV } from '../../common/env.js';
import { SECRET_NAME_RE, SECRET_NAME_RULE } from '../../common/secrets.js';

export function readSecret(name: string): string {
  if (typeof name !== 'string' || !SECRET_NAME_RE.test(name)) throw new TypeError(`ctx.secret(${JSON.stringify(name)}): a secret name ${SECRET_NAME_RULE}`);
  const dir = process.env[ENV.secretsDir];
  try {
    if (!dir) throw new Error('no secrets directory');
    return fs.readFileSync(path.join(dir, name), 'utf8');
  } catch {
    throw new Error(`ctx.secret("${name}"): this function has no secret ${name}: list it in the function's \`secrets\` in the config and create it with \`faasflow secret create ${name}\``);
  }
}
