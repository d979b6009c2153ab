// Makes the links between gateways and containers (see links.ts): a socket pair per (gateway,
// container), one end sent to each. Used by the supervisor, which started both processes and so
// knows who each is. A gateway's end goes over Node's IPC channel; a container has none (its
// handler's bytes would be parsed by Node in the supervisor), so its end goes over its descriptor
// channel (supervisor/container-channel.ts).
import net from 'node:net';
import { sys } from '../sys/binding.js';
import type { ContainerLinkMessage, GatewayLinkMessage, LinkedContainer } from './links.js';

/** A child process with Node's IPC channel (Node's ChildProcess, or execa's). */
export interface IpcChild {
  readonly pid?: number;
  send(message: unknown, sendHandle?: net.Socket, callback?: (error: Error | null) => void): boolean;
}

/** A container's descriptor channel: sends `fd` and then the message naming it; false if it could not. */
export interface FdChild {
  readonly pid?: number;
  sendLink(fd: number, m: Omit<ContainerLinkMessage, 'type' | 'tag'>): boolean;
}

/** Where one end of a link goes. */
export type LinkEnd = IpcChild | FdChild;

/** Links gateway number `index` and a container. Resolves once both ends are sent (false if either failed). */
export function link(gateway: LinkEnd, index: number, container: LinkEnd, who: LinkedContainer): Promise<boolean> {
  const [a, b] = sys.socketPair();
  const g: GatewayLinkMessage = { type: 'link', container: who };
  const c = { gateway: index, gatewayPid: gateway.pid ?? 0 };
  return Promise.all([handOver(gateway, g, a), handOver(container, c, b)]).then(([x, y]) => x && y);
}

/** Sends `fd` to `to`; this process's copy is closed either way. */
function handOver(to: LinkEnd, m: GatewayLinkMessage | Omit<ContainerLinkMessage, 'type' | 'tag'>, fd: number): Promise<boolean> {
  if ('sendLink' in to) {
    let sent = false;
    try {
      sent = to.sendLink(fd, m as Omit<ContainerLinkMessage, 'type' | 'tag'>);
    } catch {
      // the container is gone
    }
    sys.closeFd(fd);
    return Promise.resolve(sent);
  }
  // Not to be read here: the bytes are for the two processes (readable: false keeps Node from
  // starting a read on it before it is sent and closed in this process).
  const s = new net.Socket({ fd, readable: false, writable: false });
  return new Promise<boolean>((resolve) => {
    try {
      // Node closes this process's copy of the socket once it is sent.
      to.send(m, s, (err) => {
        if (err) s.destroy();
        resolve(!err);
      });
    } catch {
      s.destroy();
      resolve(false);
    }
  });
}
