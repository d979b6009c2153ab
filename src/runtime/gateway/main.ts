// Gateway process (one of gateway.workers): HTTP on a port it shares with the other gateways
// (SO_REUSEPORT), the runtime segment for its stats, every domain segment for packets, and the
// links to the containers that the supervisor hands over.
import fs from 'node:fs';
import type net from 'node:net';
import { Segment } from '../../shm/segment.js';
import { ProcessTable } from '../../shm/proctable.js';
import { ProcessStats } from '../../shm/stats.js';
import type { ResolvedConfig } from '../../config/types.js';
import { ENV, EXIT_PERMANENT } from '../../common/env.js';
import { applyAffinity, log, onShutdown, ownProcessGroup, reportFailed, reportListening, reportReady, requireEnv, send } from '../child.js';
import { acceptLink } from '../proxy/links.js';
import { isLinkMessage, type DomainSegment, type GatewayLinkMessage, type LinkedContainer } from '../links.js';
import type { FrameLink } from '../link.js';
import { Domains } from './domains.js';
import { Gateway, type DomainRoute } from './gateway.js';
import { createHttpServer } from './http.js';
import { createAdminServer, type AdminAnswers } from './admin.js';
import { listenError, listenSocket } from '../listen.js';
import { stopBudget } from '../../config/stop.js';
import { readiness } from './readiness.js';
import { Auth } from './auth.js';
import { AccessLog } from './access-log.js';
import { stateDirFor, stateFiles } from '../../common/state-dir.js';
import { instanceFiles } from '../../common/paths.js';
import { QueueLink } from './queue-link.js';
import { openJournal } from './journal.js';
import { onRun, type AsyncHost } from './async.js';

async function main(): Promise<void> {
  ownProcessGroup();
  applyAffinity();
  const cfg = JSON.parse(fs.readFileSync(requireEnv(ENV.config), 'utf8')) as ResolvedConfig;
  const index = Number(process.env.FAASFLOW_GATEWAY_INDEX ?? 0);
  const runtime = Segment.open(requireEnv(ENV.segment), true);
  const slot = new ProcessTable(runtime).slotOf(process.pid);
  const stats = slot >= 0 && slot < runtime.layout.statsSlots ? new ProcessStats(runtime, slot) : undefined;
  stats?.reset(0);
  const domains = new Domains();
  const gw = new Gateway(runtime, domains, cfg, index, stats);
  const mapDomains = (list: DomainSegment[]) => {
    for (const problem of domains.update(list, (old) => gw.failDomain(old.index, `function's domain ${old.name} was rebuilt`))) log('error', `cannot map a domain segment: ${problem}`);
  };
  const initial = JSON.parse(process.env.FAASFLOW_DOMAINS ?? '[]') as DomainSegment[];
  mapDomains(initial);
  gw.onStuck = (r, reason) => {
    log('warn', `replica ${r.replica} of function ${r.functionId} (pid ${r.pid}) is stuck: ${reason}`);
    send({ type: 'replica-stuck', pid: r.pid, functionId: r.functionId, reason });
  };
  // A request waits for a function with no replica: the supervisor's scaler starts one at once.
  gw.onDemand = (functionId) => send({ type: 'demand', functionId });
  // Until the supervisor sends its table, route every configured function to deployment 1.
  gw.setRoutes(cfg.functions.map((f) => ({ id: f.id, name: f.name, deployment: 1, timeoutMs: f.timeoutMs, concurrency: f.concurrency, domain: initial.find((d) => d.name === f.domain)?.index ?? -1 })));

  const links = new Set<FrameLink>();
  const hooks = {
    onLinked: (r: Parameters<Gateway['replicaLinked']>[0]) => gw.replicaLinked(r),
    onHello: (r: Parameters<Gateway['replicaReady']>[0]) => gw.replicaReady(r),
    onReply: gw.onReply.bind(gw),
    onDrain: gw.onDrain.bind(gw),
    onInvoke: gw.onInvoke.bind(gw),
    onGone: gw.onGone.bind(gw),
    // Routing to it stopped when its link closed (onGone); the supervisor replaces it.
    onViolation: (c: LinkedContainer, reason: string, closed?: boolean) => send({ type: 'replica-bad', pid: c.pid, functionId: c.functionId, reason, ...(closed ? { closed } : {}) }),
  };
  process.on('message', (m: { type?: string; version?: number; routes?: DomainRoute[]; domains?: DomainSegment[] }, handle: unknown) => {
    if (m?.type === 'routes') {
      if (m.domains) mapDomains(m.domains);
      gw.setRoutes(m.routes ?? []);
      send({ type: 'routes-applied', version: m.version ?? 0 });
    } else if (isLinkMessage(m) && handle) {
      const link = acceptLink(handle as net.Socket, (m as GatewayLinkMessage).container, hooks, cfg.supervisor.readyTimeoutMs ?? 30_000);
      links.add(link);
      (handle as net.Socket).once('close', () => links.delete(link));
    }
  });
  reportListening();

  const files = instanceFiles(cfg.runtimeDir);
  const auth = cfg.gateway.auth ? new Auth(stateFiles(stateDirFor(cfg.instance)).tokens) : undefined;
  if (auth && index === 0) log(auth.size ? 'info' : 'warn', `gateway.auth is on: ${auth.size ? `${auth.size} token(s) loaded` : 'no tokens yet, every non-public call is refused (faasflow token create NAME)'} from ${auth.file}`);
  const access = cfg.gateway.accessLog !== false ? new AccessLog(files.logs, index, cfg.logs) : undefined;
  const publicIds = new Set(cfg.functions.filter((f) => f.public).map((f) => f.id));
  const maxBody = Math.max(...cfg.segment.classes.map((c) => c.size));
  // The async queue's process, when the config has one (`async`): requests handed over, runs taken.
  const queue = cfg.async ? new QueueLink(files.queueSocket, files.token, maxBody) : undefined;
  const journal = cfg.async && queue ? openJournal(stateFiles(stateDirFor(cfg.instance)).journal, cfg.async.durability, (name) => queue.journaled(name), log) : undefined;
  const asyncHost: AsyncHost = { gw, auth, access, isPublic: (fn) => publicIds.has(fn), queue, journal, maxBody };
  if (queue) queue.onRun = (f, answer) => onRun(asyncHost, f, answer);

  let stopping = false;
  const serving = { routes: () => gw.router.routes(), readyReplicas: (id: number) => gw.router.ready(id).length, queued: (id: number) => gw.router.queued(id) };
  let view: { key: string; v: import('../../observe/instance.js').InstanceView } | undefined;
  const admin = cfg.gateway.admin;
  const answers: AdminAnswers = {
    ...(admin ? { adminAt: `http://${admin.host.includes(':') ? `[${admin.host}]` : admin.host}:${admin.port}` } : {}),
    health: () => readiness(serving, stopping, { instance: cfg.instance, pid: process.pid, gateway: index, inFlight: gw.inFlight }),
    live: () => ({ status: stopping ? 'draining' : 'ok', instance: cfg.instance, pid: process.pid, gateway: index }),
    // Loaded on the first scrape: prom-client and the /proc readers stay out of a gateway nobody scrapes.
    metrics: async () => {
      const [{ renderMetrics }, { InstanceView }] = await Promise.all([import('../../observe/metrics.js'), import('../../observe/instance.js')]);
      // One view per set of mapped domains, so the observer (rates, trends) carries over scrapes.
      const current = () => {
        const key = domains.all().map((d) => `${d.index}@${d.seg.header.createdAt}`).join(',');
        if (!view || view.key !== key) view = { key, v: InstanceView.borrow(runtime, domains.all().map((d) => d.seg)) };
        return view.v;
      };
      const m = await renderMetrics(current, { functionNames: new Map(gw.router.routes().map((r) => [r.id, r.name])), flows: cfg.flows, shmWarnPercent: cfg.observe.shmWarnPercent });
      if (!queue) return m;
      const { queueMetrics } = await import('../../observe/queue-metrics.js');
      return { ...m, body: m.body + await queueMetrics(queue) };
    },
  };
  const { server, light } = createHttpServer(gw, { ...answers, auth, access, isPublic: (fn) => publicIds.has(fn), async: asyncHost }, cfg.gateway.requestTimeoutMs, cfg.gateway.parser);
  const port = Number(process.env.FAASFLOW_PORT ?? cfg.gateway.port);
  // The supervisor's socket when it gave one (it keeps it open across this process's restarts, so
  // the port keeps accepting while a gateway is replaced); else one of our own.
  const inherited = process.env[ENV.listenFd];
  const fd = inherited ? Number(inherited) : listenSocket(cfg.gateway.host, port);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, cfg.gateway.host, port)));
    server.listen({ fd }, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  // The admin listener: the supervisor's one socket, shared by every gateway; else one of our own.
  const adminServer = admin ? createAdminServer(answers) : undefined;
  if (admin && adminServer) {
    const adminFd = process.env[ENV.adminFd] ? Number(process.env[ENV.adminFd]) : listenSocket(admin.host, admin.port, false);
    await new Promise<void>((resolve, reject) => {
      adminServer.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, admin.host, admin.port)));
      adminServer.listen({ fd: adminFd }, () => resolve());
    });
  }
  log('info', `gateway ${index} listening on http://${cfg.gateway.host}:${bound}${answers.adminAt ? `, admin on ${answers.adminAt}` : ''}`, { pid: process.pid });
  reportReady(bound);

  onShutdown(async (reason) => {
    log('info', `gateway ${index} draining (${reason})`);
    // /healthz says 503 from now on (/livez still 200); requests are still served for drainDelay, long enough for a
    // load balancer's health check to see it and send new requests elsewhere.
    stopping = true;
    if (cfg.gateway.drainDelayMs > 0) await new Promise((r) => setTimeout(r, cfg.gateway.drainDelayMs));
    server.close();
    light.drain();
    const closeIdle = () => {
      server.closeIdleConnections();
      light.closeIdleConnections();
    };
    closeIdle();
    const idle = setInterval(closeIdle, 50);
    await gw.drain();
    clearInterval(idle);
    for (const l of links) l.close();
    await journal?.close();
    queue?.close();
    server.closeAllConnections();
    light.closeAllConnections();
    // Probes and scrapes were answered through the whole drain (/healthz 503, /livez 200).
    adminServer?.close();
    adminServer?.closeAllConnections();
    auth?.close();
    // The responses just closed log their lines on the next turns of the loop.
    await new Promise((r) => setImmediate(r));
    await access?.close();
    domains.close();
    runtime.close();
    // Every request and flow accepted runs to its own deadline: the timeouts of the functions routed
    // now (a deploy may have added some) and of the flows bound the drain, not shutdownTimeout.
  }, () => stopBudget({ ...cfg, functions: [...cfg.functions, ...gw.router.routes()] }).gatewayMs);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  log('error', message);
  reportFailed(message);
  setTimeout(() => process.exit((err as { permanent?: boolean }).permanent ? EXIT_PERMANENT : 1), 50);
});
