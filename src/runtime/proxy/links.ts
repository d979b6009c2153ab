// The gateway's end of its links to containers. Each link arrives from the supervisor with the
// container it leads to (who it is was decided by the supervisor, which started it); the container
// then says hello, and a hello that claims to be anyone else closes the link. After that, reply and
// drain frames come in; anything malformed closes that one link, never the gateway, and is reported
// (onViolation) so the supervisor replaces that container: a replica with a dropped link would
// otherwise stay `ready` while this gateway has nowhere to send its requests.
import type net from 'node:net';
import { FrameType, type Frame } from '../../shm/frame.js';
import { FrameLink } from '../link.js';
import { log } from '../child.js';
import type { LinkedContainer } from '../links.js';
import type { Replica } from './router.js';

export type ContainerReplica = Replica<FrameLink>;

/**
 * How long a new link has to say hello once its container could be ready. A container says hello
 * after loading its handler, which may take up to the supervisor's ready timeout (the supervisor
 * kills one that takes longer); this is the margin after it.
 */
export const HELLO_GRACE_MS = 5000;

export interface LinkHooks {
  /**
   * The link arrived; its container has not said hello yet. `r` is the replica it becomes at its
   * hello (the same object): requests sent on it now wait in the link until the container reads
   * them. If it closes before its hello with requests outstanding, onGone(r) is called for them.
   */
  onLinked?(r: ContainerReplica): void;
  onHello(r: ContainerReplica): void;
  onReply(f: Frame, r: ContainerReplica): void;
  onDrain(r: ContainerReplica): void;
  /** ctx.invoke(): the container asks for another function to be called. */
  onInvoke(f: Frame, r: ContainerReplica): void;
  onGone(r: ContainerReplica, err?: Error): void;
  /**
   * The container at the other end broke the protocol, or (`closed`) closed its link while it
   * was being routed to; either way the link is gone and this gateway no longer routes to it.
   */
  onViolation(c: LinkedContainer, reason: string, closed?: boolean): void;
}

export function acceptLink(socket: net.Socket, c: LinkedContainer, hooks: LinkHooks, readyTimeoutMs = 0): FrameLink {
  let replica: ContainerReplica | undefined;
  const helloMs = readyTimeoutMs + HELLO_GRACE_MS;
  const helloTimer = setTimeout(() => !replica && link.fail(new Error(`no hello frame within ${helloMs} ms`)), helloMs);
  helloTimer.unref();
  const link: FrameLink = new FrameLink(
    socket,
    (f) => {
      if (!replica) {
        if (f.type !== FrameType.Hello) throw new Error(`expected a hello frame first, got type ${f.type}`);
        if (f.index !== c.pid || f.functionId !== c.functionId || f.generation !== c.deployment || f.requestId !== c.replica) {
          throw new Error(`hello from pid ${f.index} as function ${f.functionId} deployment ${f.generation} replica ${f.requestId} on the link made for pid ${c.pid}, function ${c.functionId} deployment ${c.deployment} replica ${c.replica}`);
        }
        clearTimeout(helloTimer);
        replica = early;
        link.send({ ...f, index: process.pid });
        hooks.onHello(replica);
        return;
      }
      if (f.type === FrameType.Reply) hooks.onReply(f, replica);
      else if (f.type === FrameType.Drain) hooks.onDrain(replica);
      else if (f.type === FrameType.Invoke) hooks.onInvoke(f, replica);
      else if (f.type !== FrameType.Hello) throw new Error(`unexpected frame type ${f.type} from a container`);
    },
    (err, cause) => {
      clearTimeout(helloTimer);
      if (err) log('warn', `container link dropped: ${err.message}`, { pid: c.pid, fn: c.functionId });
      if (replica || early.outstanding > 0) hooks.onGone(early, err);
      if (cause === 'violation') hooks.onViolation(c, err?.message ?? 'protocol violation');
      // A container that closed its own link while serving (not draining) is as unroutable; it may
      // also have died, which the supervisor sees for itself: it checks after a grace.
      else if (cause === 'peer' && replica && !replica.draining) hooks.onViolation(c, 'it closed its link while serving', true);
    },
  );
  const early: ContainerReplica = { link, pid: c.pid, functionId: c.functionId, deployment: c.deployment, replica: c.replica, domain: c.domain, outstanding: 0, draining: false };
  hooks.onLinked?.(early);
  return link;
}
