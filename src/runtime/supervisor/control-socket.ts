// The supervisor's side of the control socket: a Unix socket only the owner can open (0600 in a
// 0700 directory), one request per connection, replies as JSON lines. A container running as the
// same user (no uid of its own: the supervisor is not root) could still reach the file, and
// Landlock has no rule for connecting to a socket by path: such a peer, sandboxed by the kernel's
// own record of it (SO_PEERCRED, no_new_privs), is refused before it can say anything.
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import { isFaasflowError } from '../../common/errors.js';
import { isSandboxedPeer, peerOf } from '../../sys/peer.js';
import type { ControlReply, ControlRequest } from '../../common/protocol.js';

export type Reply = (r: ControlReply) => void;
export type RequestHandler = (req: ControlRequest, reply: Reply, closed: Promise<void>) => Promise<unknown>;

export async function serveControl(socketPath: string, handle: RequestHandler): Promise<net.Server> {
  fs.rmSync(socketPath, { force: true });
  const server = net.createServer((conn) => {
    conn.on('error', () => conn.destroy());
    const peer = peerOf(conn);
    if (peer && isSandboxedPeer(peer.pid)) {
      conn.end(`${JSON.stringify({ type: 'error', code: 'CONTROL', message: `refused: pid ${peer.pid} runs in a function's sandbox and may not control the instance` })}\n`);
      return;
    }
    const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
    const send: Reply = (r) => {
      if (!conn.destroyed) conn.write(`${JSON.stringify(r)}\n`);
    };
    const lines = readline.createInterface({ input: conn });
    lines.on('error', () => undefined); // conn's 'error' handler already dropped the connection
    lines.once('line', (line) => {
      lines.close();
      let req: ControlRequest;
      try {
        req = JSON.parse(line) as ControlRequest;
      } catch {
        send({ type: 'error', code: 'CONTROL', message: 'malformed control request (expected one JSON line)' });
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
    });
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
  return server;
}
