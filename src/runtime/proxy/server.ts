// The proxy's socket: containers connect here, say hello (function, deployment, replica, pid),
// then exchange request and reply frames. A connection that sends anything malformed is dropped
// alone; the listener and every other container carry on.
import fs from 'node:fs';
import net from 'node:net';
import { FrameType, type Frame } from '../../shm/frame.js';
import { FrameLink } from '../link.js';
import { log } from '../child.js';
import type { Replica } from './router.js';

export type ContainerReplica = Replica<FrameLink>;

/** How long a new connection has to say hello. */
export const HELLO_TIMEOUT_MS = 2000;

export interface ProxyHooks {
  onHello(r: ContainerReplica): void;
  onReply(f: Frame, r: ContainerReplica): void;
  onDrain(r: ContainerReplica): void;
  onGone(r: ContainerReplica, err?: Error): void;
}

export function listenProxy(socketPath: string, hooks: ProxyHooks): Promise<net.Server> {
  // A socket file left by a crashed gateway would make listen() fail with EADDRINUSE.
  fs.rmSync(socketPath, { force: true });
  const server = net.createServer((socket) => {
    let replica: ContainerReplica | undefined;
    // A peer that connects and never completes its hello (a stray client, half a frame) would hold
    // a socket forever: containers say hello as soon as they connect.
    const helloTimer = setTimeout(() => !replica && socket.destroy(new Error(`no hello frame within ${HELLO_TIMEOUT_MS} ms`)), HELLO_TIMEOUT_MS);
    helloTimer.unref();
    const link: FrameLink = new FrameLink(
      socket,
      (f) => {
        if (!replica) {
          if (f.type !== FrameType.Hello) throw new Error(`expected a hello frame first, got type ${f.type}`);
          clearTimeout(helloTimer);
          replica = { link, pid: f.index, functionId: f.functionId, deployment: f.generation, replica: f.requestId, outstanding: 0, draining: false };
          link.send({ ...f, index: process.pid });
          hooks.onHello(replica);
          return;
        }
        if (f.type === FrameType.Reply) hooks.onReply(f, replica);
        else if (f.type === FrameType.Drain) hooks.onDrain(replica);
        else throw new Error(`unexpected frame type ${f.type} from a container`);
      },
      (err) => {
        if (err) log('warn', `container connection dropped: ${err.message}`, { pid: replica?.pid, fn: replica?.functionId });
        if (replica) hooks.onGone(replica, err);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      fs.chmodSync(socketPath, 0o600);
      resolve(server);
    });
  });
}

