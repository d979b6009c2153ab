// A function container: one process per replica, started inside its security domain by the
// sandbox launcher (native/sandbox.c), or started there ahead of need as a warm spare that is told
// its function later (identity.ts). Maps its domain's segment (the only one it can open),
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
import { isSpare, replicaIdentity } from './identity.js';

/** Set for a sandboxed container: the handler's source comes from the supervisor (the bundle file is out of its reach). */
const handlerViaIpc = process.env.FAASFLOW_HANDLER_IPC === '1';

/** A module of nothing, imported by a waiting spare so that its handler's import finds Node's ESM loader ready. */
const LOADER_WARMUP = 'data:text/javascript,export default 0';

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
// Asked before `listening`: a spare's adoption may be the first message to come.
const identity = replicaIdentity();
supervisor.on('link', (m, socket) => {
  if (take) take(m, socket);
  else early.push([m, socket]);
});
reportListening();

async function loadHandler(handlerFile: string): Promise<Handler> {
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
  // A spare waits here, its segment mapped and faasflow's code loaded: adopted, it has only its
  // handler to import. Its first dynamic import sets up Node's ESM loader, done while it waits.
  if (isSpare) await import(LOADER_WARMUP);
  const { functionId, deployment, replica, timeoutMs, concurrency, statsSlot, handler: handlerFile } = await identity;
  const handler = await loadHandler(handlerFile);
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
