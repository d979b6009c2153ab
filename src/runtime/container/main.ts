// A function container: one process per replica. Loads the bundled handler, registers with the
// gateway's proxy socket, runs requests in place on the segment, and drains on shutdown.
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { Segment } from '../../shm/segment.js';
import { ProcessTable } from '../../shm/proctable.js';
import { ProcessStats } from '../../shm/stats.js';
import { FrameType, NO_PACKET, type Frame } from '../../shm/frame.js';
import { ENV } from '../env.js';
import { FrameLink } from '../link.js';
import { applyAffinity, log, onShutdown, ownProcessGroup, reportFailed, reportReady, requireEnv, spinMicros } from '../child.js';
import { Spinner } from '../spin.js';
import type { Handler } from '../handler/types.js';
import { Invoker } from './invoke.js';

const functionId = Number(requireEnv(ENV.functionId));
const deployment = Number(requireEnv(ENV.deployment));
const replica = Number(process.env[ENV.replica] ?? 0);
const timeoutMs = Number(process.env[ENV.timeoutMs] ?? 30000);
const socketPath = requireEnv(ENV.proxySocket);
const spin = spinMicros();
const handlerFile = requireEnv(ENV.handler);

/** How long to keep trying to reach the gateway (it may be restarting) before giving up. */
const RECONNECT_WINDOW_MS = 30_000;

async function loadHandler(): Promise<Handler> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(handlerFile).href)) as { default?: unknown };
  } catch (err) {
    throw new Error(`cannot load handler ${handlerFile}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (typeof mod.default !== 'function') throw new Error(`handler ${handlerFile} has no default-exported function`);
  return mod.default as Handler;
}

async function main(): Promise<void> {
  ownProcessGroup();
  applyAffinity();
  const seg = Segment.open(requireEnv(ENV.segment), true);
  const handler = await loadHandler();
  const slot = new ProcessTable(seg).slotOf(process.pid);
  const stats = slot >= 0 ? new ProcessStats(seg, slot) : undefined;
  stats?.reset(functionId);
  const invoker = new Invoker({ pool: seg.pool, handler, functionId, timeoutMs, stats });
  let link: FrameLink | undefined;
  let draining = false;
  let ready = false;
  let lostAt = 0;
  let idle: (() => void) | undefined;

  const hello: Frame = { type: FrameType.Hello, flags: 0, index: process.pid, generation: deployment, length: 0, metaLength: 0, functionId, requestId: replica, status: 0, metaIndex: NO_PACKET, metaGeneration: 0 };

  const connect = () => {
    const socket = net.connect(socketPath);
    const l = new FrameLink(
      socket,
      (f) => {
        if (f.type === FrameType.Hello) {
          invoker.gatewayPid = f.index;
          lostAt = 0;
          if (!ready) {
            ready = true;
            reportReady();
          }
        } else if (f.type === FrameType.Request) {
          void invoker.run(f, (r) => l.send(r));
        }
      },
      (err) => {
        if (draining) return idle?.();
        lostAt ||= Date.now();
        if (Date.now() - lostAt > RECONNECT_WINDOW_MS) {
          log('error', `gateway unreachable for ${RECONNECT_WINDOW_MS} ms; exiting`, { error: err?.message });
          process.exit(1);
        }
        setTimeout(connect, 100).unref();
      },
    );
    // Once its replies are out and no handler runs, the next request is what it waits for.
    if (spin > 0) l.spinWith(new Spinner(spin, () => invoker.active === 0, stats));
    socket.on('connect', () => l.send(hello));
    link = l;
  };
  connect();

  onShutdown(async () => {
    draining = true;
    // The gateway stops routing to us on Drain and closes the link once every request it sent us
    // has its reply, so no request is in the socket when we go.
    if (link && !link.closed) {
      const closed = new Promise<void>((resolve) => (idle = resolve));
      link.send({ ...hello, type: FrameType.Drain });
      await closed;
    }
    seg.close();
  }, timeoutMs + 5000);
  // Keep the process alive while waiting for the first connection.
  setInterval(() => undefined, 1 << 30);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  log('error', message);
  reportFailed(message);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 50);
});
