// The queue's side of its socket: each gateway connects once and keeps the connection. On it the
// gateway hands over accepted requests (PUT, answered ACK once committed), asks for results and
// stats, and the queue hands back runs (RUN, answered RAN with the function's reply).
import net from 'node:net';
import fs from 'node:fs';
import { ACK, FrameReader, HELLO, encodeFrame, str, type WireFrame } from './wire.js';
import { peerOf, isSandboxedPeer } from '../../sys/peer.js';
import { tokenMatches } from '../supervisor/control-auth.js';
import { log } from '../child.js';

export interface GatewayConn {
  readonly id: number;
  /** Runs sent on it and not yet answered, by sequence number. */
  readonly runs: Map<number, string>;
  send(type: number, seq: number, json: object, body?: Uint8Array): void;
  close(): void;
}

export interface GatewayHandlers {
  frame(c: GatewayConn, f: WireFrame): void;
  gone(c: GatewayConn): void;
  joined(c: GatewayConn): void;
}

let nextConn = 1;
/** How long a connection may take to say HELLO. */
const HELLO_MS = 5000;

/**
 * Listens on `file` (0600, in the runtime directory only this user reaches). A connection counts
 * as a gateway once its first frame is HELLO with `token` (the control token): an unprivileged
 * instance's containers run as this user, and the peer checks below cannot see a short-lived
 * child that connected and exited, but Landlock keeps every container from reading the token.
 */
export function serveGateways(file: string, maxFrame: number, token: string, h: GatewayHandlers): Promise<net.Server> {
  fs.rmSync(file, { force: true });
  const server = net.createServer((socket) => {
    // Only this user's processes reach the socket's directory; a sandboxed process of this user
    // (an unprivileged instance's container) is refused all the same.
    const peer = peerOf(socket);
    if (!peer || peer.uid !== process.getuid?.() || isSandboxedPeer(peer.pid)) {
      log('warn', `refused a connection to the queue socket from pid ${peer?.pid ?? '?'} (uid ${peer?.uid ?? '?'}): only the instance's gateways may connect`);
      socket.destroy();
      return;
    }
    // Frames sent in one synchronous stretch (the ACKs of one commit, the RUNs of one pump) leave
    // in one writev once it ends: one syscall and one wakeup of the gateway for all of them.
    let corked = false;
    const flush = () => {
      corked = false;
      socket.uncork();
    };
    const c: GatewayConn = {
      id: nextConn++,
      runs: new Map(),
      send: (type, seq, json, body) => {
        if (socket.destroyed) return;
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(flush);
        }
        for (const b of encodeFrame(type, seq, json, body)) socket.write(b);
      },
      close: () => socket.destroy(),
    };
    let joined = false;
    /** A producer (the supervisor firing schedules) puts and asks, and is handed no runs. */
    let takesRuns = true;
    const refuse = (why: string) => {
      log('warn', `refused a connection to the queue socket from pid ${peer.pid}: ${why}`);
      socket.destroy();
    };
    const timer = setTimeout(() => refuse(`no HELLO within ${HELLO_MS} ms`), HELLO_MS);
    const reader = new FrameReader(maxFrame, (f) => {
      if (joined) return h.frame(c, f);
      clearTimeout(timer);
      if (f.type !== HELLO || !tokenMatches(str(f.json.token, 256) ?? '', token)) return refuse(f.type === HELLO ? 'a wrong token' : `frame type ${f.type} before HELLO`);
      joined = true;
      takesRuns = f.json.runs !== false;
      if (takesRuns) h.joined(c);
    }, (why) => {
      log('error', `gateway connection ${c.id} (pid ${peer.pid}) sent ${why}: closing it`);
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      if (joined && takesRuns) h.gone(c);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      fs.chmodSync(file, 0o600);
      resolve(server);
    });
  });
}

/** The ACK of a PUT: committed (ok) or not (the gateway answers 503). */
export function ack(c: GatewayConn, seq: number, err?: Error): void {
  c.send(ACK, seq, err ? { ok: false, error: err.message } : { ok: true });
}
