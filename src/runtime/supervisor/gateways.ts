// The gateway processes: started one after the other on the port (the first takes it, the others
// share it with SO_REUSEPORT), linked to every container, and kept on the current routing table.
import type { ResolvedConfig } from '../../config/types.js';
import { FaasflowError } from '../../common/errors.js';
import { sys } from '../../sys/binding.js';
import { link } from '../broker.js';
import { listenSocket } from '../listen.js';
import type { Route } from '../protocol.js';
import { Child } from './child.js';
import type { Domains } from './domains.js';
import type { childSpecs } from './specs.js';

/** How long a gateway may take to confirm a routing table before the change counts as failed. */
const ROUTES_CONFIRM_MS = 10_000;

export class Gateways {
  /** By index (gateway.workers of them); a restarted one keeps its index. */
  readonly list: Child[] = [];
  /** The HTTP port: the configured one, or the one the first gateway got for port 0. */
  port: number;
  private routesVersion = 0;
  /** A gateway holds a request for function `id`, which has no replica there (the scaler's wake; bounded there). */
  onDemand: (id: number, gateway: number) => void = () => undefined;
  /** The listening socket of each gateway (by index), handed to it at every start. */
  private readonly sockets: number[] = [];
  /**
   * The admin listener (gateway.admin), one socket every gateway accepts on: whichever gateway is
   * up answers probes and scrapes (a readiness or metrics answer is the instance's from any of
   * them), and a gateway being restarted leaves the others answering.
   */
  private adminFd: number | undefined;

  constructor(
    private readonly cfg: ResolvedConfig,
    private readonly specs: ReturnType<typeof childSpecs>,
    private readonly domains: Domains,
    private readonly adopt: (c: Child) => Child,
    private readonly info: (message: string) => void,
  ) {
    this.port = cfg.gateway.port;
  }

  /** Starts every gateway and resolves once all are ready; a gateway that fails fails the start. */
  async startAll(): Promise<void> {
    this.checkPortFree();
    const admin = this.cfg.gateway.admin;
    if (admin) {
      try {
        // No SO_REUSEPORT: the bind fails if anything, another instance too, holds the port.
        this.adminFd = listenSocket(admin.host, admin.port, false);
      } catch (err) {
        throw new FaasflowError('START_FAILED', `the admin listener (gateway.admin) did not start: ${(err as Error).message.replace('gateway.port', 'gateway.admin.port')}`);
      }
    }
    const first = this.start(0);
    const r = await first.outcome();
    if (!r.ready) throw new FaasflowError('START_FAILED', `the gateway did not start: ${r.reason}`);
    const rest = Array.from({ length: this.cfg.gateway.workers - 1 }, (_, i) => this.start(i + 1));
    for (const o of await Promise.all(rest.map((g) => g.outcome()))) if (!o.ready) throw new FaasflowError('START_FAILED', `a gateway did not start: ${o.reason}`);
  }

  private start(index: number): Child {
    // Made here and kept until the instance stops: while a gateway is restarted its socket stays
    // open, so connections wait in its accept queue for the new process instead of being refused.
    // The first binds the configured port (0: any); the others the port it got.
    let fd: number;
    try {
      fd = this.sockets[index] ??= listenSocket(this.cfg.gateway.host, index === 0 ? this.cfg.gateway.port : this.port);
    } catch (err) {
      throw new FaasflowError('START_FAILED', `the gateway did not start: ${(err as Error).message}`);
    }
    const g = this.adopt(new Child(this.specs.gateway(index, this.domains.segments(), fd, index === 0 ? undefined : this.port, this.adminFd)));
    g.on('message', (m) => {
      if (m.type !== 'demand') return;
      // A gateway is trusted, but what it says is still checked: a function id and nothing else.
      const id = demandOf(m);
      if (id === undefined) this.info(`gateway ${index} sent a malformed demand message; ignored`);
      else this.onDemand(id, index);
    });
    this.list[index] = g;
    g.start();
    return g;
  }

  /** Before any gateway binds with SO_REUSEPORT: a plain bind fails if anything, even another instance, holds the port. */
  private checkPortFree(): void {
    const { host, port } = this.cfg.gateway;
    if (port === 0) return;
    try {
      sys.closeFd(sys.listenTcp(host, port, 1, false));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new FaasflowError('START_FAILED', `port ${port} on ${host} is already in use: stop what uses it (\`ss -ltnp 'sport = :${port}'\`) or set gateway.port in faasflow.config.ts`);
    }
  }

  all(): Child[] {
    return this.list.filter(Boolean);
  }

  ready(): Child[] {
    return this.all().filter((g) => g.state === 'ready');
  }

  /** A gateway is ready: it gets a link to every container that listens. */
  onReady(g: Child, index: number, containers: Iterable<{ c: Child; domain: string }>): void {
    for (const { c, domain } of containers) if (c.listening && c.running) this.link(g, index, c, domain);
  }

  /** A container listens: it gets a link to every ready gateway. */
  linkAll(c: Child, domain: string): void {
    for (const [index, g] of this.list.entries()) if (g?.state === 'ready') this.link(g, index, c, domain);
  }

  private link(g: Child, index: number, c: Child, domainName: string): void {
    const gi = g.ipc;
    const ci = c.ipc;
    const d = this.domains.byName(domainName);
    if (!gi || !ci || !d) return;
    void link(gi, index, ci, { pid: c.pid, functionId: c.spec.functionId, deployment: c.spec.deployment, replica: c.spec.replica, domain: d.index }).then((ok) => {
      if (!ok && c.running && g.running) this.info(`could not link gateway ${index} and ${c.spec.id} (pid ${c.pid}); one of them is exiting`);
    });
  }

  /** Sends every ready gateway the table (and the domain segments) and waits for each to confirm it. */
  async pushRoutes(routes: Route[]): Promise<void> {
    const version = ++this.routesVersion;
    const domains = this.domains.segments();
    const applied = await Promise.all(this.ready().map((gw) => {
      const ok = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => done(false), ROUTES_CONFIRM_MS);
        const onMsg = (m: { type: string; version?: number }) => m.type === 'routes-applied' && m.version === version && done(true);
        const onExit = () => done(false);
        const done = (r: boolean) => {
          clearTimeout(timer);
          gw.off('message', onMsg);
          gw.off('exit', onExit);
          resolve(r);
        };
        gw.on('message', onMsg);
        gw.once('exit', onExit);
      });
      gw.send({ type: 'routes', version, routes, domains });
      return ok;
    }));
    if (applied.includes(false)) throw new FaasflowError('DEPLOY_FAILED', `a gateway did not apply routing table ${version} (is it restarting? see \`faasflow logs\`)`);
  }

  /**
   * Stops every running gateway (they drain first); resolves when all have exited. Our copies of
   * their sockets close first, so the port closes when the gateways close theirs after the drain.
   */
  stop(timeoutMs: number): Promise<unknown> {
    this.closeSockets();
    return Promise.all(this.all().filter((g) => g.running).map((g) => g.stop(timeoutMs)));
  }

  private closeSockets(): void {
    for (const fd of this.sockets.splice(0)) if (fd !== undefined) sys.closeFd(fd);
    if (this.adminFd !== undefined) sys.closeFd(this.adminFd);
    this.adminFd = undefined;
  }
}

/** The function id of a gateway's `demand` message, or undefined if it is not one. */
export function demandOf(m: unknown): number | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const { type, functionId } = m as Record<string, unknown>;
  if (type !== 'demand' || Object.keys(m).length !== 2) return undefined;
  return typeof functionId === 'number' && Number.isSafeInteger(functionId) && functionId >= 0 ? functionId : undefined;
}
