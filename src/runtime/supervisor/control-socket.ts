// The supervisor's side of the control socket: a Unix socket only the owner can open (0600 in a
// 0700 directory), one request per connection, replies as JSON lines. Every connection is input
// from an unknown process until it has proved otherwise (control-auth.ts): the kernel's record of
// the peer first, then the token as the first line, and only then the request. What a client can
// cost is bounded before it has authenticated: the bytes of each line, the time to send them, and
// how many such connections are held at once. A refusal is one line to the client, one log line
// per offender (rate-limited), never a throw.
import fs from 'node:fs';
import net from 'node:net';
import { isFaasflowError } from '../../common/errors.js';
import type { ControlReply, ControlRequest } from '../../common/protocol.js';
import { RefusalLog, fileId, refusePeer, tokenMatches, type FileId, type Peer } from './control-auth.js';

export type Reply = (r: ControlReply) => void;
export type RequestHandler = (req: ControlRequest, reply: Reply, closed: Promise<void>) => Promise<unknown>;

/** The token line: 64 hex characters; anything longer is not a token. */
const TOKEN_LINE_MAX = 128;
/** A request line: a deploy names two paths and a few numbers; 64 KiB is far past any real one. */
export const REQUEST_LINE_MAX = 64 << 10;
/** Time from connecting to a complete request: the CLI sends both lines at once. */
export const AUTH_TIMEOUT_MS = 5000;
/**
 * Connections that have not authenticated yet. When one more arrives, the oldest is dropped
 * rather than the newest refused: a flood of silent connections cannot lock the CLI out, since
 * the CLI's own connection authenticates the moment it is read.
 */
const MAX_UNAUTHENTICATED = 16;
/** Authenticated connections at once (`up` and `down` followers, `ps`, deploys). */
const MAX_CLIENTS = 64;

export interface ControlServer {
  server: net.Server;
  /** The socket file this server made: shutdown removes it only while it is still this one. */
  id: FileId | undefined;
}

export interface ControlOptions {
  token: string;
  handle: RequestHandler;
  /** Where refusals are logged (rate-limited before it is called). */
  log: (line: string) => void;
}

/** How long a refused connection is read (and dropped) after its refusal, before it is closed. */
const REFUSAL_LINGER_MS = 200;

export async function serveControl(socketPath: string, o: ControlOptions): Promise<ControlServer> {
  fs.rmSync(socketPath, { force: true });
  const refusals = new RefusalLog(o.log);
  /** Connections not authenticated yet, oldest first, with who the kernel says they are. */
  const waiting = new Map<net.Socket, Peer | undefined>();
  let clients = 0;
  const refuse = (conn: net.Socket, peer: Peer | undefined, reason: string) => {
    waiting.delete(conn);
    refusals.refused(peer, reason);
    if (conn.destroyed) return;
    const line: ControlReply = { type: 'error', code: 'CONTROL', message: `refused: ${reason}` };
    // What the peer still sends is read and dropped for a moment: closing a Unix socket with unread
    // bytes resets the peer's end, and it could lose the refusal before reading it. Destroyed soon
    // after the line is handed to the kernel: a peer that never reads holds nothing here.
    conn.removeAllListeners('data');
    conn.on('data', () => undefined);
    conn.resume();
    conn.end(`${JSON.stringify(line)}\n`, () => setTimeout(() => conn.destroy(), REFUSAL_LINGER_MS).unref());
  };
  const server = net.createServer((conn) => {
    conn.on('error', () => conn.destroy());
    const { peer, reason } = refusePeer(conn);
    if (reason) return refuse(conn, peer, reason);
    if (waiting.size >= MAX_UNAUTHENTICATED) {
      const [oldest, who] = waiting.entries().next().value as [net.Socket, Peer | undefined];
      refuse(oldest, who, `more than ${MAX_UNAUTHENTICATED} connections waiting to authenticate: dropped the oldest`);
    }
    waiting.set(conn, peer);
    const timer = setTimeout(() => refuse(conn, peer, `no token and request within ${AUTH_TIMEOUT_MS} ms`), AUTH_TIMEOUT_MS);
    conn.once('close', () => {
      clearTimeout(timer);
      waiting.delete(conn);
    });
    readLines(conn, (line, n) => {
      if (n === 0) {
        if (tokenMatches(line, o.token)) return REQUEST_LINE_MAX;
        refuse(conn, peer, 'wrong control token');
        return 0;
      }
      clearTimeout(timer);
      waiting.delete(conn);
      if (clients >= MAX_CLIENTS) {
        refuse(conn, peer, `${MAX_CLIENTS} control clients are connected already`);
        return 0;
      }
      clients++;
      conn.once('close', () => clients--);
      serve(conn, line, o.handle);
      return 0;
    }, (n, max) => refuse(conn, peer, `${n === 0 ? 'token' : 'request'} line longer than ${max} bytes`));
  });
  // Listen under a temporary name and rename: the socket appears only once it accepts connections.
  const tmp = `${socketPath}.${process.pid}`;
  fs.rmSync(tmp, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(tmp, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, socketPath);
  return { server, id: fileId(socketPath) };
}

/**
 * Splits what `conn` sends into lines, each at most as long as the limit `onLine` returned for it
 * (the first line's limit is TOKEN_LINE_MAX); `onLine` returns 0 when no more lines are wanted,
 * after which bytes are dropped up to a bound, past which the connection is cut.
 */
function readLines(conn: net.Socket, onLine: (line: string, n: number) => number, tooLong: (n: number, max: number) => void): void {
  let pending: Buffer | undefined;
  let n = 0;
  let max = TOKEN_LINE_MAX;
  let ignored = 0;
  conn.on('data', (chunk: Buffer) => {
    if (conn.destroyed || conn.writableEnded) return;
    if (max === 0) {
      // The request is being served; a client has nothing more to say.
      if ((ignored += chunk.length) > REQUEST_LINE_MAX) conn.destroy();
      return;
    }
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    while (max > 0 && !conn.writableEnded) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0 ? buf.length > max : nl > max) return tooLong(n, max);
      if (nl < 0) {
        pending = buf;
        return;
      }
      const line = buf.subarray(0, nl).toString('utf8').replace(/\r$/, '');
      buf = buf.subarray(nl + 1);
      max = onLine(line, n++);
    }
  });
}

function serve(conn: net.Socket, line: string, handle: RequestHandler): void {
  const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  const send: Reply = (r) => {
    if (!conn.destroyed) conn.write(`${JSON.stringify(r)}\n`);
  };
  let req: ControlRequest;
  try {
    req = JSON.parse(line) as ControlRequest;
    if (typeof req !== 'object' || req === null || typeof req.cmd !== 'string') throw new Error('no cmd');
  } catch {
    send({ type: 'error', code: 'CONTROL', message: 'malformed control request (expected one JSON line with a "cmd")' });
    conn.end();
    return;
  }
  handle(req, send, closed).then(
    (result) => {
      if (result !== undefined) send({ type: 'result', result });
      conn.end();
    },
    (err: unknown) => {
      send({ type: 'error', code: isFaasflowError(err) ? err.code : 'CONTROL', message: (err as Error).message ?? String(err) });
      conn.end();
    },
  );
}
