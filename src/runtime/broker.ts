// Makes the links between gateways and containers (see links.ts): a socket pair per (gateway,
// container), one end sent to each over its IPC channel. Used by the supervisor, which started
// both processes and so knows who each is.
import net from 'node:net';
import { sys } from '../sys/binding.js';
import type { ContainerLinkMessage, GatewayLinkMessage, LinkedContainer } from './links.js';

/** A child process with an IPC channel (Node's ChildProcess, or execa's). */
export interface IpcChild {
  readonly pid?: number;
  send(message: unknown, sendHandle?: net.Socket, callback?: (error: Error | null) => void): boolean;
}

/** Links gateway number `index` and a container. Resolves once both ends are sent (false if either failed). */
export function link(gateway: IpcChild, index: number, container: IpcChild, who: LinkedContainer): Promise<boolean> {
  const [a, b] = sys.socketPair();
  // Neither end may be read here: the bytes are for the two processes (readable: false keeps Node
  // from starting a read on them before they are sent and closed in this process).
  const toGateway = new net.Socket({ fd: a, readable: false, writable: false });
  const toContainer = new net.Socket({ fd: b, readable: false, writable: false });
  const g: GatewayLinkMessage = { type: 'link', container: who };
  const c: ContainerLinkMessage = { type: 'link', gateway: index, gatewayPid: gateway.pid ?? 0 };
  const sent = (child: IpcChild, m: unknown, s: net.Socket) =>
    new Promise<boolean>((resolve) => {
      try {
        // Node closes this process's copy of the socket once it is sent.
        child.send(m, s, (err) => {
          if (err) s.destroy();
          resolve(!err);
        });
      } catch {
        s.destroy();
        resolve(false);
      }
    });
  return Promise.all([sent(gateway, g, toGateway), sent(container, c, toContainer)]).then(([x, y]) => x && y);
}
