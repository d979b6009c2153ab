// Gateway process: HTTP server plus the proxy socket containers connect to.
import fs from 'node:fs';
import type net from 'node:net';
import { Segment } from '../../shm/segment.js';
import { ProcessTable } from '../../shm/proctable.js';
import { ProcessStats } from '../../shm/stats.js';
import type { ResolvedConfig } from '../../config/types.js';
import { ENV, EXIT_PERMANENT } from '../env.js';
import type { SupervisorMessage } from '../protocol.js';
import { applyAffinity, log, onShutdown, ownProcessGroup, reportFailed, reportReady, requireEnv, send } from '../child.js';
import { listenProxy } from '../proxy/server.js';
import { Gateway } from './gateway.js';
import { createHttpServer } from './http.js';

async function main(): Promise<void> {
  ownProcessGroup();
  applyAffinity();
  const cfg = JSON.parse(fs.readFileSync(requireEnv(ENV.config), 'utf8')) as ResolvedConfig;
  const seg = Segment.open(requireEnv(ENV.segment), true);
  const slot = new ProcessTable(seg).slotOf(process.pid);
  const stats = slot >= 0 ? new ProcessStats(seg, slot) : undefined;
  stats?.reset(0);
  const gw = new Gateway(seg, cfg, stats);
  gw.onStuck = (r, reason) => {
    log('warn', `replica ${r.replica} of function ${r.functionId} (pid ${r.pid}) is stuck: ${reason}`);
    send({ type: 'replica-stuck', pid: r.pid, functionId: r.functionId, reason });
  };
  // Until the supervisor sends its table, route every configured function to deployment 1.
  gw.setRoutes(cfg.functions.map((f) => ({ id: f.id, name: f.name, deployment: 1, timeoutMs: f.timeoutMs, concurrency: f.concurrency })));

  process.on('message', (m: SupervisorMessage) => {
    if (m?.type === 'routes') {
      gw.setRoutes(m.routes);
      send({ type: 'routes-applied', version: m.version });
    }
  });

  const proxy: net.Server = await listenProxy(requireEnv(ENV.proxySocket), {
    onHello: (r) => gw.replicaReady(r),
    onReply: (f, r) => gw.onReply(f, r),
    onDrain: (r) => gw.onDrain(r),
    onGone: (r) => gw.onGone(r),
  });

  let stopping = false;
  const server = createHttpServer(gw, {
    health: () => ({
      ok: !stopping,
      body: {
      status: stopping ? 'draining' : 'ok',
      instance: cfg.instance,
      pid: process.pid,
      functions: gw.router.routes().map((r) => ({ id: r.id, name: r.name, deployment: r.deployment, replicas: gw.router.ready(r.id).length, queued: gw.router.queued(r.id) })),
      inFlight: gw.inFlight,
      },
    }),
    // Loaded on the first scrape: prom-client and the /proc readers stay out of a gateway nobody scrapes.
    metrics: async () => {
      const { renderMetrics } = await import('../../observe/metrics.js');
      return renderMetrics(seg, { functionNames: new Map(gw.router.routes().map((r) => [r.id, r.name])), shmWarnPercent: cfg.observe.shmWarnPercent });
    },
  }, cfg.gateway.requestTimeoutMs);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE'
        ? `port ${cfg.gateway.port} on ${cfg.gateway.host} is already in use: stop what uses it (\`ss -ltnp 'sport = :${cfg.gateway.port}'\`) or set gateway.port in faasflow.config.ts`
        : err.code === 'EACCES' ? `no permission to listen on port ${cfg.gateway.port}: use a port above 1023` : `cannot listen on ${cfg.gateway.host}:${cfg.gateway.port}: ${err.message}`;
      reject(Object.assign(new Error(why), { permanent: true }));
    });
    // Node defaults to a backlog of 511: a burst of a thousand new connections would be refused.
    server.listen({ port: cfg.gateway.port, host: cfg.gateway.host, backlog: 4096 }, () => resolve());
  });
  log('info', `gateway listening on http://${cfg.gateway.host}:${cfg.gateway.port}`, { pid: process.pid });
  const addr = server.address();
  reportReady(typeof addr === 'object' && addr ? addr.port : cfg.gateway.port);

  onShutdown(async (reason) => {
    log('info', `gateway draining (${reason})`);
    // /healthz says 503 from now on; requests are still served for drainDelay, long enough for a
    // load balancer's health check to see it and send new requests elsewhere.
    stopping = true;
    if (cfg.gateway.drainDelayMs > 0) await new Promise((r) => setTimeout(r, cfg.gateway.drainDelayMs));
    server.close();
    server.closeIdleConnections();
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    await gw.drain();
    clearInterval(idle);
    proxy.close();
    for (const r of gw.router.all()) r.link.close();
    server.closeAllConnections();
    seg.close();
  }, cfg.supervisor.shutdownTimeoutMs + cfg.gateway.drainDelayMs);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  log('error', message);
  reportFailed(message);
  setTimeout(() => process.exit((err as { permanent?: boolean }).permanent ? EXIT_PERMANENT : 1), 50);
});
