// A function container: one process per replica, started inside its security domain by the
// sandbox launcher (native/sandbox.c). Maps its domain's segment (the only one it can open),
// loads the bundled handler, takes links to the gateways from the supervisor (over its own
// channel, supervisor.ts: a container has no Node IPC channel), runs requests in place on the
// segment, and drains on shutdown.
import type net from 'node:net';
import { pathToFileURL } from 'node:url';
import { Segment } from '../../shm/segment.js';
import { ProcessStats } from '../../shm/stats.js';
import { ENV, EXIT_PERMANENT } from '../../common/env.js';
import { applyAffinity, log, onShutdown, ownProcessGroup, reportFailed, reportListening, reportReady, requireEnv, spinMicros, supervisor } from '../child.js';
import { mapStackTraces } from '../handler/source-map.js';
import type { Handler } from '../handler/types.js';
import type { ContainerLinkMessage } from '../links.js';
import { Invoker } from './invoke.js';
import { GatewayLinks } from './gateways.js';
import { describeThrown } from './describe.js';

const functionId = Number(requireEnv(ENV.functionId));
const deployment = Number(requireEnv(ENV.deployment));
const replica = Number(process.env[ENV.replica] ?? 0);
const timeoutMs = Number(process.env[ENV.timeoutMs] ?? 30000);
const concurrency = Math.max(1, Number(process.env[ENV.concurrency] ?? 16) || 16);
const statsSlot = Number(process.env.FAASFLOW_STATS_SLOT ?? -1);
const handlerFile = requireEnv(ENV.handler);
/** Set for a sandboxed container: the handler's source comes from the supervisor (the bundle file is out of its reach). */
const handlerViaIpc = process.env.FAASFLOW_HANDLER_IPC === '1';

// Links may arrive while the handler is still loading: they wait here until it has.
const early: Array<[ContainerLinkMessage, net.Socket]> = [];
let take: ((m: ContainerLinkMessage, s: net.Socket) => void) | undefined;
let gotSource: (m: { name: string; source: string }) => void = () => undefined;
const source = new Promise<{ name: string; source: string }>((resolve) => (gotSource = resolve));
if (!supervisor) {
  process.stderr.write(`faasflow: a container is started by the supervisor, which gives it ${ENV.channelFd} and ${ENV.linksFd}\n`);
  process.exit(EXIT_PERMANENT);
}
supervisor.on('handler', (m) => gotSource(m));
supervisor.on('link', (m, socket) => {
  if (take) take(m, socket);
  else early.push([m, socket]);
});
reportListening();

async function loadHandler(): Promise<Handler> {
  let mod: { default?: unknown };
  try {
    if (handlerViaIpc) {
      // Its dependencies are imported by absolute file: URLs (bundle.ts), which a data: module
      // can resolve; the sourceURL names it in stack traces.
      const s = await source;
      // Node maps source-mapped stack traces for file modules only: this one is mapped here.
      mapStackTraces(s.name, s.source);
      mod = (await import(`data:text/javascript;base64,${Buffer.from(`${s.source}\n//# sourceURL=${s.name}`).toString('base64')}`)) as { default?: unknown };
    } else {
      process.setSourceMapsEnabled(true);
      mod = (await import(pathToFileURL(handlerFile).href)) as { default?: unknown };
    }
  } catch (err) {
    throw new Error(`cannot load handler ${handlerFile}: ${describeThrown(err)}`, { cause: err });
  }
  if (typeof mod.default !== 'function') throw new Error(`handler ${handlerFile} has no default-exported function`);
  return mod.default as Handler;
}

async function main(): Promise<void> {
  ownProcessGroup();
  applyAffinity();
  const seg = Segment.inherit(requireEnv(ENV.segment), Number(requireEnv(ENV.segmentFd)));
  const handler = await loadHandler();
  const stats = statsSlot >= 0 && statsSlot < seg.layout.statsSlots ? new ProcessStats(seg, statsSlot) : undefined;
  stats?.reset(functionId);
  const invoker = new Invoker({ pool: seg.pool, handler, functionId, timeoutMs, concurrency, stats });
  let ready = false;
  const links = new GatewayLinks({ functionId, deployment, replica }, invoker, spinMicros(), stats, () => {
    if (ready) return;
    ready = true;
    reportReady();
  });
  take = (m, s) => links.add(m, s);
  for (const [m, s] of early.splice(0)) links.add(m, s);

  onShutdown(async () => {
    // Each gateway stops routing here on Drain and closes its link once every request it sent
    // has its reply, so no request is in a socket when this process goes.
    await links.drain();
    seg.close();
  }, timeoutMs + 5000);
  // Alive while no gateway is linked (one may be restarting).
  setInterval(() => undefined, 1 << 30);
}

main().catch((err: unknown) => {
  const message = describeThrown(err);
  log('error', message);
  reportFailed(message);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 50);
});
