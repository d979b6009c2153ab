// A container's links to the gateways: one per gateway process, each handed over by the
// supervisor. Requests come in on a link and their replies go back on the same one; a link that
// closes (its gateway died or finished draining us) is simply dropped, and the supervisor hands
// over a new one when a gateway starts.
import type net from 'node:net';
import { FrameType, NO_PACKET, type Frame } from '../../shm/frame.js';
import type { ProcessStats } from '../../shm/stats.js';
import { FrameLink } from '../link.js';
import { log } from '../child.js';
import type { ContainerLinkMessage } from '../links.js';
import { Spinner } from '../spin.js';
import { IdTable } from '../id-table.js';
import type { RequestContext } from './context.js';
import type { Invoker, ReplyPath } from './invoke.js';

export interface Identity {
  functionId: number;
  deployment: number;
  replica: number;
}

class GatewayLink implements ReplyPath {
  readonly requests = new IdTable<RequestContext | null>();
  readonly link: FrameLink;
  constructor(
    readonly gateway: number,
    readonly gatewayPid: number,
    socket: net.Socket,
    onFrame: (f: Frame, l: GatewayLink) => void,
    onClose: (l: GatewayLink, err?: Error) => void,
  ) {
    this.link = new FrameLink(socket, (f) => onFrame(f, this), (err) => onClose(this, err));
  }

  send(f: Frame): void {
    this.link.send(f);
  }
}

export class GatewayLinks {
  private readonly links = new Set<GatewayLink>();
  private draining = false;
  private drained: (() => void) | undefined;

  constructor(
    private readonly id: Identity,
    private readonly invoker: Invoker,
    private readonly spinMicros: number,
    private readonly stats: ProcessStats | undefined,
    /** Called at each gateway's hello answer: the container is reachable. */
    private readonly onReady: () => void,
  ) {}

  private hello(type: number): Frame {
    const { functionId, deployment, replica } = this.id;
    return { type: type as Frame['type'], flags: 0, index: process.pid, generation: deployment, length: 0, metaLength: 0, functionId, requestId: replica, status: 0, metaIndex: NO_PACKET, metaGeneration: 0 };
  }

  add(m: ContainerLinkMessage, socket: net.Socket): void {
    const l = new GatewayLink(m.gateway, m.gatewayPid, socket, (f, from) => this.onFrame(f, from), (from, err) => this.onClose(from, err));
    // Once its replies are out and no handler runs, the next request is what it waits for.
    if (this.spinMicros > 0) l.link.spinWith(new Spinner(this.spinMicros, () => this.invoker.active === 0, this.stats));
    this.links.add(l);
    l.send(this.hello(FrameType.Hello));
    if (this.draining) l.send(this.hello(FrameType.Drain));
  }

  private onFrame(f: Frame, l: GatewayLink): void {
    if (f.type === FrameType.Request) this.invoker.submit(f, l);
    else if (f.type === FrameType.Cancel) this.invoker.cancel(f.requestId, l);
    else if (f.type === FrameType.InvokeReply) this.invoker.calls.answered(f);
    else if (f.type === FrameType.Hello) this.onReady();
  }

  private onClose(l: GatewayLink, err?: Error): void {
    this.links.delete(l);
    if (err && !this.draining) log('warn', `link to gateway ${l.gateway} (pid ${l.gatewayPid}) closed: ${err.message}`);
    if (this.draining && this.links.size === 0) this.drained?.();
  }

  /** Tells every gateway to stop sending work; resolves once each has closed its link. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.links.size === 0) return Promise.resolve();
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    for (const l of this.links) l.send(this.hello(FrameType.Drain));
    return done;
  }
}
