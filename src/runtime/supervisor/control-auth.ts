// Who may talk to the control socket. Two checks, both on facts a sandboxed process can neither
// read nor forge: the kernel's record of the peer (SO_PEERCRED: the supervisor's own uid or root,
// and a peer it cannot identify is refused), then a random token the supervisor writes at start
// into its 0700 runtime directory, which the client must send first. As root every container runs
// under a uid of its own (and cannot even open the socket); unprivileged it runs under the same uid,
// but Landlock hides the runtime directory, so it cannot read the token. The no_new_privs test is
// a second wall only: a process that connected and exited leaves nothing in /proc to test.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { isSandboxedPeer, peerOf } from '../../sys/peer.js';

/** 32 random bytes, sent as 64 hex characters. */
const TOKEN_BYTES = 32;

/** A file as the supervisor made it: removed at shutdown only while it is still this one. */
export interface FileId {
  dev: number;
  ino: number;
}

export function fileId(file: string): FileId | undefined {
  try {
    const st = fs.lstatSync(file);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/**
 * Removes `file` only if it is still the one `id` names: a supervisor that outlived its instance
 * (a slow shutdown while `up` started the next one) must never remove its successor's files.
 */
export function removeIfSame(file: string, id: FileId | undefined): void {
  const now = fileId(file);
  if (id && now && now.dev === id.dev && now.ino === id.ino) fs.rmSync(file, { force: true });
}

/** Writes a fresh token (0600, temp file then rename: a reader never sees half of one). */
export function createToken(file: string): { token: string; id: FileId | undefined } {
  const token = randomBytes(TOKEN_BYTES).toString('hex');
  const tmp = `${file}.${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
  return { token, id: fileId(file) };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares in constant time whatever the length (a length mismatch must not answer sooner). */
export function tokenMatches(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token));
}

export interface Peer {
  pid: number;
  uid: number;
}

/** Why the peer at the other end of `conn` is refused before it may say anything, or undefined. */
export function refusePeer(conn: unknown): { peer?: Peer; reason?: string } {
  const peer = peerOf(conn);
  if (!peer) return { reason: 'the kernel cannot say who is connecting (SO_PEERCRED failed)' };
  const self = process.getuid?.() ?? 0;
  if (peer.uid !== self && peer.uid !== 0) return { peer, reason: `pid ${peer.pid} runs as uid ${peer.uid}, neither the instance's user (${self}) nor root` };
  if (isSandboxedPeer(peer.pid)) return { peer, reason: `pid ${peer.pid} runs in a function's sandbox` };
  return { peer };
}

/** At most this many refusal lines per window; the rest are counted and the count said later. */
const LINES_PER_WINDOW = 10;
const WINDOW_MS = 60_000;
/** Offenders remembered (each is logged once); past this the memory starts over. */
const REMEMBERED = 1024;

/**
 * The refusal log: one line per offender (uid and pid), and at most LINES_PER_WINDOW lines a
 * minute, however many connections a hostile process makes. Never throws.
 */
export class RefusalLog {
  private readonly seen = new Set<string>();
  private windowStart = 0;
  private lines = 0;
  private suppressed = 0;

  constructor(private readonly write: (line: string) => void) {}

  refused(peer: Peer | undefined, reason: string): void {
    const key = peer ? `${peer.uid}:${peer.pid}` : 'unknown';
    if (this.seen.has(key)) return;
    if (this.seen.size >= REMEMBERED) this.seen.clear();
    this.seen.add(key);
    const now = Date.now();
    if (now - this.windowStart > WINDOW_MS) {
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines >= LINES_PER_WINDOW) {
      this.suppressed++;
      return;
    }
    this.lines++;
    const more = this.suppressed ? ` (${this.suppressed} more refusal(s) since the last line were not logged)` : '';
    this.suppressed = 0;
    this.write(`control socket: refused a client: ${reason}${more}`);
  }
}
