// The gateway's bearer tokens (gateway.auth): `faasflow token create` makes one, prints it once and
// keeps only its SHA-256 with its name and date, in a file only the instance's user can read. The
// gateways load the hashes and compare what a client presents with them (runtime/gateway/auth.ts).
// A token is 32 random bytes: a hash of it cannot be reversed or guessed, so no salt or slow hash
// is needed, and checking a request costs one SHA-256 of ~50 bytes.
import crypto, { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FaasflowError } from './errors.js';

/** What every token starts with: a token pasted in a log or a ticket is recognisable as one. */
export const TOKEN_PREFIX = 'ff_';
const TOKEN_BYTES = 32;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const HASH_RE = /^[0-9a-f]{64}$/;

export interface TokenEntry {
  name: string;
  /** Hex SHA-256 of the token. */
  sha256: string;
  /** ISO time of creation. */
  created: string;
}

/** crypto.hash (Node 20.12+) hashes without making a Hash object: half the cost on a short input. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash;

export function hashToken(token: string): Buffer {
  return oneShot ? oneShot('sha256', token, 'buffer') : createHash('sha256').update(token).digest();
}

export function checkTokenName(name: string): string {
  if (!NAME_RE.test(name)) throw new FaasflowError('USAGE', `invalid token name "${name.slice(0, 80)}": use 1-63 letters, digits, "_", "-" or "." starting with a letter or digit (it names the caller in the access log)`);
  return name;
}

/**
 * The entries of `file`; none when it does not exist. Throws on a file that is not a token list
 * (hand-edited, truncated): a gateway keeps the tokens it had then, a command says what to fix.
 */
export function readTokens(file: string): TokenEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const bad = (why: string) => new FaasflowError('USAGE', `${file} is not a faasflow token list (${why}): remove it and create the tokens again`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw bad((err as Error).message);
  }
  const list = (data as { tokens?: unknown })?.tokens;
  if (!Array.isArray(list)) throw bad('no "tokens" array');
  return list.map((e: Partial<TokenEntry>, i) => {
    if (typeof e?.name !== 'string' || !NAME_RE.test(e.name) || typeof e.sha256 !== 'string' || !HASH_RE.test(e.sha256)) throw bad(`entry ${i} has no valid name and sha256`);
    return { name: e.name, sha256: e.sha256, created: typeof e.created === 'string' ? e.created : '' };
  });
}

/** Replaces the file at once (write, then rename): a gateway reloading it never reads half of it. */
function writeTokens(file: string, tokens: TokenEntry[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, `${JSON.stringify({ tokens }, null, 2)}\n`, { mode: 0o600 });
    // The mode given to writeFileSync is filtered by the umask; the file's readers must be the owner only.
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Creates token `name` and returns it: the only time it exists outside its client. */
export function createToken(file: string, name: string, now = new Date()): { token: string; entry: TokenEntry } {
  checkTokenName(name);
  const tokens = readTokens(file);
  if (tokens.some((t) => t.name === name)) throw new FaasflowError('USAGE', `a token named "${name}" exists already: pick another name, or \`faasflow token rm ${name}\` first`);
  const token = TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
  const entry = { name, sha256: hashToken(token).toString('hex'), created: now.toISOString() };
  writeTokens(file, [...tokens, entry]);
  return { token, entry };
}

/** Removes token `name`; a gateway refuses it once it has reloaded the file. */
export function removeToken(file: string, name: string): TokenEntry {
  const tokens = readTokens(file);
  const gone = tokens.find((t) => t.name === name);
  if (!gone) throw new FaasflowError('USAGE', `no token named "${name.slice(0, 80)}"${tokens.length ? `: the tokens are ${tokens.map((t) => t.name).join(', ')}` : ': this instance has none'} (\`faasflow token ls\`)`);
  writeTokens(file, tokens.filter((t) => t !== gone));
  return gone;
}
