// A handler that outlives its timeout. The client has its 504, but the handler still runs and may
// have handed its input or outputs to native code that writes through a raw pointer (an image
// library on a worker thread): detaching the views does not stop that. So its packets become this
// process's until it settles, and no other request can be handed that memory; when it settles its
// views are detached and its packets freed. If it never settles they are freed when this container
// exits (the supervisor reclaims a dead process's packets).
import { NO_PACKET, type Frame } from '../../shm/frame.js';
import type { Descriptor, PacketPool } from '../../shm/pool.js';
import { FLAG_KEPT, FLAG_SHARED } from '../meta.js';
import { log, requestReplacement } from '../child.js';
import type { RequestContext } from './context.js';

/** Handlers still running after their timeout before the replica asks to be replaced. */
export const LATE_HANDLER_LIMIT = 8;

/** Counts the late handlers of a replica. */
export interface LateCount {
  late: number;
}

/** Keeps the request's packets for the late handler; returns the 504 frame to send (flagged KEPT when they were kept). */
export function keepLate(counter: LateCount, pool: PacketPool, f: Frame, ctx: RequestContext, input: ArrayBuffer | undefined, late: PromiseLike<unknown>, timedOut: Frame, t0: number, timeoutMs: number): Frame {
  let held: Descriptor[] = [];
  if (f.flags & FLAG_SHARED) {
    // A flow's input goes on to other steps (or is read by sibling branches): it is not this
    // process's to keep. The late handler loses its views of it now; its outputs stay its own.
    ctx.releaseInputs(input);
    input = undefined;
  } else {
    try {
      held.push(pool.describe(f.index, f.generation));
      if (f.metaLength > 0 && f.metaIndex !== NO_PACKET) held.push(pool.describe(f.metaIndex, f.metaGeneration));
      for (const d of held) pool.transfer(d, process.pid);
    } catch (err) {
      // The gateway already let go of the request: its packets are not this process's to free.
      log('warn', `could not keep the packets of timed-out request ${f.requestId}: ${(err as Error).message}`);
      held = [];
    }
  }
  counter.late++;
  log('warn', `handler of request ${f.requestId} still running after its ${timeoutMs} ms timeout; its packets stay held until it settles`, { fn: f.functionId, req: f.requestId, running: counter.late });
  const release = () => {
    counter.late--;
    ctx.releaseViews(input);
    ctx.freeReceived();
    for (const d of [...held, ...(ctx.outputs ?? []).flatMap((o) => (o.desc ? [o.desc] : []))]) {
      try {
        pool.free(d);
      } catch (err) {
        log('warn', `could not free a packet of late request ${f.requestId}: ${(err as Error).message}`);
      }
    }
    log('info', `late handler of request ${f.requestId} settled after ${Math.round(performance.now() - t0)} ms; its packets are free`, { fn: f.functionId, req: f.requestId });
  };
  // Each one pins its packets; past a few, a fresh replica is cheaper than a shrinking pool.
  if (counter.late >= LATE_HANDLER_LIMIT) requestReplacement(`${counter.late} handlers are still running past their ${timeoutMs} ms timeout`);
  // Settled however the handler's thenable behaves (its `then` may throw, or be a Proxy's trap).
  Promise.resolve(late).then(release, release);
  return held.length ? { ...timedOut, flags: timedOut.flags | FLAG_KEPT } : timedOut;
}
