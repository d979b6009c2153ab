// The supervisor's end of one container's channel (the container's: container/supervisor.ts), made
// for each start of the process: messages both ways over a stream socket pair (framed and bounded
// by channel.ts), and descriptors one way over a SOCK_SEQPACKET pair (native/fdpass.cc) whose
// supervisor end is shut for reading. Every message the container sends is checked
// (container-messages.ts) before anything acts on it; the first violation is reported once as a
// bad message and nothing more is read.
import net from 'node:net';
import { ENV } from '../../common/env.js';
import { fdPass, sys } from '../../sys/binding.js';
import { Channel, FROM_CONTAINER_MAX, FROM_CONTAINER_PER_SECOND, TO_CONTAINER_MAX } from '../channel.js';
import type { ContainerLinkMessage } from '../links.js';
import type { ContainerMessage, ToContainer } from '../protocol.js';
import { checkContainerMessage } from './container-messages.js';

/**
 * A container's end closes when it exits, an instant before the supervisor hears of the exit; one
 * still running this long after its channel closed closed it itself, which is a bad message too.
 */
const EOF_GRACE_MS = 1000;

export interface ContainerChannelHooks {
  message(m: ContainerMessage): void;
  /** A violation of the protocol (the reason, quoting none of its bytes), at most once, never after exited(). */
  bad(reason: string): void;
}

function closeQuietly(fd: number): void {
  try {
    sys.closeFd(fd);
  } catch {
    // already closed
  }
}

export class ContainerChannel {
  /** The container's ends: put them in its stdio list, then call spawned() or close(). */
  readonly theirs: { messages: number; links: number };
  private readonly ours: { messages: number; links: number };
  private channel: Channel | undefined;
  private tag = 0;
  private open = true;
  private gone = false;
  private eof: NodeJS.Timeout | undefined;
  private reported = false;

  constructor(private readonly hooks: ContainerChannelHooks) {
    const [a, b] = sys.socketPair();
    let pair: [number, number];
    try {
      pair = fdPass.fdChannel();
    } catch (err) {
      closeQuietly(a);
      closeQuietly(b);
      throw err;
    }
    this.ours = { messages: a, links: pair[0] };
    this.theirs = { messages: b, links: pair[1] };
  }

  /** The container's environment entries naming its ends, given their places in its stdio list. */
  static env(messagesAt: number, linksAt: number): Record<string, string> {
    return { [ENV.channelFd]: String(messagesAt), [ENV.linksFd]: String(linksAt) };
  }

  /** The container runs as `pid` with its own copies of its ends: drop ours of them, start reading. */
  spawned(pid: number): void {
    closeQuietly(this.theirs.messages);
    closeQuietly(this.theirs.links);
    const seen = new Set<string>();
    const socket = new net.Socket({ fd: this.ours.messages, readable: true, writable: true });
    this.channel = new Channel(socket, {
      maxIn: FROM_CONTAINER_MAX,
      maxOut: TO_CONTAINER_MAX,
      perSecond: FROM_CONTAINER_PER_SECOND,
      onMessage: (m) => {
        const checked = checkContainerMessage(m, pid, seen);
        if (typeof checked !== 'string') return this.hooks.message(checked);
        this.channel?.close();
        this.bad(checked);
      },
      onBad: (reason) => this.bad(reason),
      onEnd: (reason) => {
        if (!this.gone) this.eof = setTimeout(() => this.bad(`${reason} while running`), EOF_GRACE_MS);
      },
    });
  }

  /** The container exited: what its channel does from now on is no violation. */
  exited(): void {
    this.gone = true;
    clearTimeout(this.eof);
  }

  private bad(reason: string): void {
    if (this.gone || this.reported) return;
    this.reported = true;
    this.hooks.bad(reason);
  }

  /** False when the channel is closed. Throws a RangeError for a message over TO_CONTAINER_MAX. */
  send(m: ToContainer): boolean {
    return this.channel?.send(m) ?? false;
  }

  /**
   * Sends `fd` (a link's end) on the descriptor channel, then the message that tells the container
   * what it is: it takes the descriptor already queued when it reads the message. False when
   * either could not be sent (the container is gone, or has not taken the links sent before).
   */
  sendLink(fd: number, m: Omit<ContainerLinkMessage, 'type' | 'tag'>): boolean {
    if (!this.channel || this.channel.closed) return false;
    const tag = (this.tag = (this.tag + 1) >>> 0);
    if (fdPass.sendFd(this.ours.links, fd, tag) !== 0) return false;
    return this.send({ type: 'link', ...m, tag });
  }

  /** At the container's exit (or a failed spawn): every descriptor of the channel still here. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.exited();
    if (this.channel) this.channel.close();
    else for (const fd of [this.ours.messages, this.theirs.messages, this.theirs.links]) closeQuietly(fd);
    closeQuietly(this.ours.links);
  }
}
