// The queue's side of its socket: each gateway connects once and keeps the connection. On it the
// gateway hands over accepted requests (PUT, answered ACK once committed), asks for results and
// stats, and the queue hands back runs (RUN, answered RAN with the function's reply).
import net from 'node:net';
import fs from 'node:fs';
import { ACK, FrameReader, encodeFrame, type WireFrame } from './wire.js';
import { peerOf, isSandboxedPeer } from '../../sys/peer.js';
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

/** Listens on `file` (0600, in the runtime directory only this user reaches). */
export function serveGateways(file: string, maxFrame: number, h: GatewayHandlers): Promise<net.Server> {
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
    const c: GatewayConn = {
      id: nextConn++,
      runs: new Map(),
      send: (type, seq, json, body) => {
        if (socket.destroyed) return;
        for (const b of encodeFrame(type, seq, json, body)) socket.write(b);
      },
      close: () => socket.destroy(),
    };
    const reader = new FrameReader(maxFrame, (f) => h.frame(c, f), (why) => {
      log('error', `gateway connection ${c.id} (pid ${peer.pid}) sent ${why}: closing it`);
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => h.gone(c));
    h.joined(c);
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
