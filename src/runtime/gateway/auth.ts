// Who calls (gateway.auth): a request to /function or /flow carries "Authorization: Bearer <token>"
// whose SHA-256 is in the instance's tokens file (common/tokens.ts), or it is answered 401. The
// hashes are loaded at start and again whenever the file changes, so `faasflow token create` and
// `token rm` act on a running instance. Per request: one SHA-256 of the presented token and a
// constant-time comparison with every known hash (no early exit: how long a refusal takes says
// nothing about which token came close). A connection that presented a valid token is not asked
// again while it presents the same header and the tokens have not changed: a keep-alive client (a
// load balancer, wrk) then costs one string comparison with what it sent itself.
import fs from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { hashToken, readTokens } from '../../common/tokens.js';
import type { ClientRequest, ClientResponse } from '../http1/types.js';
import { sendError } from './errors.js';
import { log } from '../child.js';

/** How often the tokens file is checked for a change (a stat; fs.watch would miss a rename onto it). */
const RELOAD_MS = 250;
const BEARER = 'bearer ';
/** Longer is no token of ours: not worth hashing. */
const MAX_TOKEN = 256;
export const CHALLENGE = 'Bearer realm="faasflow"';
/** The caller of a request nobody vouched for (auth off, or a public function without a token). */
export const ANONYMOUS = '-';

interface Known {
  name: string;
  hash: Buffer;
}

/** The last valid header a connection presented, and the tokens' generation it was checked against. */
interface Vouched {
  header: string;
  name: string;
  generation: number;
}

/** A caller's name, or why it was refused. */
export type Admission = { caller: string } | { refused: 'missing' | 'invalid' };

export class Auth {
  private known: Known[] = [];
  /** Bumped on every load: a removed token is not taken on any connection's word. */
  private generation = 0;
  private readonly vouched = new WeakMap<object, Vouched>();
  private readonly onChange = () => this.load();

  constructor(readonly file: string) {
    this.load();
    fs.watchFile(file, { interval: RELOAD_MS, persistent: false }, this.onChange);
  }

  /** Reads the file again; a broken file keeps the tokens loaded before (and is logged). */
  load(): void {
    try {
      this.known = readTokens(this.file).map((t) => ({ name: t.name, hash: Buffer.from(t.sha256, 'hex') }));
      this.generation++;
    } catch (err) {
      log('error', `cannot load the tokens, keeping the ${this.known.length} loaded before: ${(err as Error).message}`);
    }
  }

  get size(): number {
    return this.known.length;
  }

  /** The name of the token `req` presents, or why there is none. */
  check(req: ClientRequest, res: ClientResponse): Admission {
    const header = req.header ? req.header('authorization') : (req.headers as { authorization?: string }).authorization;
    if (header === undefined) return { refused: 'missing' };
    const conn = res.socket;
    const v = conn ? this.vouched.get(conn) : undefined;
    if (v && v.generation === this.generation && v.header === header) return { caller: v.name };
    if (header.length <= BEARER.length || header.length > BEARER.length + MAX_TOKEN || header.slice(0, BEARER.length).toLowerCase() !== BEARER) return { refused: 'invalid' };
    const hash = hashToken(header.slice(BEARER.length).trim());
    let found: string | undefined;
    for (const k of this.known) if (timingSafeEqual(k.hash, hash) && found === undefined) found = k.name;
    if (found === undefined) return { refused: 'invalid' };
    if (conn) {
      if (v) Object.assign(v, { header, name: found, generation: this.generation });
      else this.vouched.set(conn, { header, name: found, generation: this.generation });
    }
    return { caller: found };
  }

  close(): void {
    fs.unwatchFile(this.file, this.onChange);
  }
}

/**
 * Admits a request or answers it 401 (its body is dropped). `open`: the target needs no token (a
 * public function); a valid token still names the caller then.
 */
export function admit(auth: Auth | undefined, req: ClientRequest, res: ClientResponse, open: boolean, requestId: () => number): string | undefined {
  if (!auth) return ANONYMOUS;
  const a = auth.check(req, res);
  if ('caller' in a) return a.caller;
  if (open) return ANONYMOUS;
  req.resume();
  const rid = String(requestId());
  const message = a.refused === 'missing'
    ? 'this gateway requires a token (gateway.auth is on): send "Authorization: Bearer <token>"; `faasflow token create NAME` makes one'
    : 'the bearer token is not valid here (revoked, mistyped or of another instance): `faasflow token ls` lists the valid names, `faasflow token create NAME` makes a new one';
  const challenge = a.refused === 'missing' ? CHALLENGE : `${CHALLENGE}, error="invalid_token"`;
  sendError(res, 401, message, { requestId: Number(rid) }, { 'www-authenticate': challenge, 'x-request-id': rid });
  return undefined;
}
