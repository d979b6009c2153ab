// Which uid a domain's containers run as when the supervisor is root: the function's `user` (a
// name from /etc/passwd or a number), else one derived from the instance and the domain, in a
// range no account uses, so two instances (or two domains) never share one.
import fs from 'node:fs';
import type { ResolvedConfig } from '../../config/types.js';
import { FaasflowError } from '../../common/errors.js';

/** Derived ids start here: far above any distribution's ranges for people and services. */
const DERIVED_FLOOR = 0x50000000;
/** Ids per instance: a domain index is below this. */
const PER_INSTANCE = 0x100;

interface Account {
  name: string;
  uid: number;
}

function accounts(): Account[] {
  try {
    return fs.readFileSync('/etc/passwd', 'utf8').split('\n').filter(Boolean).map((l) => {
      const [name, , uid] = l.split(':');
      return { name, uid: Number(uid) };
    });
  } catch {
    return [];
  }
}

/** FNV-1a: a stable spread of instance names over the derived range. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The first uid (and gid) of the instance's domains. */
export function uidBaseFor(cfg: ResolvedConfig): number {
  return cfg.security.uidBase ?? DERIVED_FLOOR + (hash(cfg.instance) % 0x10000) * PER_INSTANCE;
}

/** The uid for domain number `index`: the configured user's, or base + index (refused if an account has it). */
export function resolveUser(user: string | number | undefined, base: number, index: number, domain: string): number {
  const known = accounts();
  if (typeof user === 'number') return user;
  if (typeof user === 'string') {
    const a = known.find((x) => x.name === user);
    if (!a) throw new FaasflowError('CONFIG', `domain ${domain}: user "${user}" does not exist: create it (useradd --system ${user}) or give a uid`);
    if (a.uid === 0) throw new FaasflowError('CONFIG', `domain ${domain}: user "${user}" is root: a domain running as root is not isolated; pick another user`);
    return a.uid;
  }
  const uid = base + index;
  const taken = known.find((x) => x.uid === uid);
  if (taken) throw new FaasflowError('CONFIG', `domain ${domain}: uid ${uid} (derived from security.uidBase ${base}) belongs to the account "${taken.name}": set security.uidBase to a free range`);
  return uid;
}
