// A container's end of its channel to the supervisor (the supervisor's end:
// supervisor/container-channel.ts). Both descriptors were inherited at the places FAASFLOW_CHANNEL_FD
// and FAASFLOW_LINKS_FD name. Messages go both ways on the first; a link's descriptor arrives on the
// second just before the `link` message that names its tag. The supervisor is trusted, yet a
// message that is not one it sends is dropped and said, never a crash.
import net from 'node:net';
import { ENV } from '../../common/env.js';
import { fdPass, sys } from '../../sys/binding.js';
import { Channel, FROM_CONTAINER_MAX, TO_CONTAINER_MAX } from '../channel.js';
import type { ContainerLinkMessage } from '../links.js';
import type { AdoptMessage, ContainerMessage } from '../protocol.js';

export interface FromSupervisor {
  handler(m: { name: string; source: string }): void;
  adopt(m: AdoptMessage): void;
  link(m: ContainerLinkMessage, socket: net.Socket): void;
  drain(): void;
}

export class SupervisorChannel {
  private readonly channel: Channel;
  private ended: string | undefined;
  private readonly onEnds: ((reason: string) => void)[] = [];
  private readonly to: Partial<FromSupervisor> = {};

  constructor(
    messagesFd: number,
    private readonly linksFd: number,
    /** Where a problem with the channel is told (this process's log). */
    private readonly warn: (message: string) => void,
  ) {
    for (const fd of [messagesFd, linksFd]) fdPass.setCloexec(fd);
    this.channel = new Channel(new net.Socket({ fd: messagesFd, readable: true, writable: true }), {
      maxIn: TO_CONTAINER_MAX,
      maxOut: FROM_CONTAINER_MAX,
      onMessage: (m) => this.dispatch(m),
      onBad: (reason) => this.end(`the supervisor sent ${reason}`),
      onEnd: (reason) => this.end(reason),
    });
  }

  send(m: ContainerMessage): void {
    this.channel.send(m);
  }

  /** Where the supervisor's messages go. A link that arrives with nobody to take it is closed. */
  on<K extends keyof FromSupervisor>(type: K, fn: FromSupervisor[K]): void {
    this.to[type] = fn;
  }

  /** Calls `fn` once the supervisor is gone (its end closed: it exited, even by SIGKILL), at once if it is. */
  onEnd(fn: (reason: string) => void): void {
    if (this.ended !== undefined) fn(this.ended);
    else this.onEnds.push(fn);
  }

  private end(reason: string): void {
    this.ended = reason;
    for (const fn of this.onEnds.splice(0)) fn(reason);
  }

  private dispatch(m: unknown): void {
    const f = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
    if (f.type === 'handler' && typeof f.name === 'string' && typeof f.source === 'string') this.to.handler?.({ name: f.name, source: f.source });
    else if (f.type === 'drain') this.to.drain?.();
    else if (f.type === 'adopt' && isAdopt(f)) this.to.adopt?.(f);
    else if (f.type === 'link' && isCount(f.gateway) && isCount(f.gatewayPid) && isCount(f.tag)) this.link({ type: 'link', gateway: f.gateway, gatewayPid: f.gatewayPid, tag: f.tag });
    else this.warn(`ignored a message from the supervisor that is not one it sends (${typeof f.type === 'string' ? f.type.slice(0, 40) : 'no type'})`);
  }

  /** Takes the descriptor sent with `m` (queued before the message was written), dropping older ones left over. */
  private link(m: ContainerLinkMessage): void {
    for (;;) {
      let got: { fd: number; tag: number } | null;
      try {
        got = fdPass.recvFd(this.linksFd);
      } catch (err) {
        return this.warn(`cannot take the link to gateway ${m.gateway}: ${(err as Error).message}`);
      }
      if (!got) return this.warn(`no descriptor came with the link to gateway ${m.gateway}`);
      if (got.tag !== m.tag || got.fd < 0) {
        if (got.fd >= 0) sys.closeFd(got.fd);
        if (got.tag === m.tag) return this.warn(`the link to gateway ${m.gateway} came without its descriptor (at the limit of open files?)`);
        continue;
      }
      const socket = new net.Socket({ fd: got.fd, readable: true, writable: true });
      if (this.to.link) this.to.link(m, socket);
      else socket.destroy();
      return;
    }
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isAdopt(f: Record<string, unknown>): f is AdoptMessage & Record<string, unknown> {
  const { functionId, deployment, replica, statsSlot, concurrency, timeoutMs, handler } = f;
  return isCount(functionId) && functionId > 0 && isCount(deployment) && isCount(replica) && Number.isInteger(statsSlot) && (statsSlot as number) >= -1
    && isCount(concurrency) && concurrency > 0 && isCount(timeoutMs) && timeoutMs > 0 && typeof handler === 'string' && handler.length > 0;
}

/** This process's channel when it is a container the supervisor started (the env names its descriptors). */
export function openSupervisorChannel(warn: (message: string) => void): SupervisorChannel | undefined {
  const messages = process.env[ENV.channelFd];
  const links = process.env[ENV.linksFd];
  if (messages === undefined || links === undefined) return undefined;
  const [m, l] = [Number(messages), Number(links)];
  if (!Number.isInteger(m) || !Number.isInteger(l) || m < 3 || l < 3) throw new Error(`${ENV.channelFd}=${messages} and ${ENV.linksFd}=${links} must name inherited descriptors (3 or more)`);
  return new SupervisorChannel(m, l, warn);
}
