// A container's allocations when its domain is short of packet memory for a moment (the packets
// its requests hold are freed by the gateways as they answer): a reply, an invoke's input wait for
// it in arrival order, up to their request's deadline; each wait and each refusal is counted in the
// domain segment, where `top` shows them beside the gateways'. ctx.output() cannot wait (it is
// synchronous): it hands out heap memory instead, and the reply made from it waits here.
import { isExhausted, type Exhausted, type PacketPool } from '../../shm/pool.js';
import { MemoryWaits } from '../memory-wait.js';

/** One queue per process: the container's own frees and a short timer retry it. */
const waits = new MemoryWaits();

/** How long an allocation may wait: its request's deadline (performance.now()). */
export interface ReplyWait {
  deadline: number;
}

/** What `attempt` allocates, once the domain has the room; undefined when the deadline passed first. */
export function waitForPackets<T extends object>(pool: PacketPool, wait: ReplyWait, attempt: () => T | Exhausted): Promise<T | undefined> {
  pool.count('wait');
  return new Promise((resolve) => {
    let got: T | undefined;
    waits.add(pool, {
      fn: -1,
      deadline: wait.deadline,
      attempt: () => {
        const r = attempt();
        if (isExhausted(r)) return false;
        got = r;
        return true;
      },
      granted: () => resolve(got),
      expired: () => {
        pool.count('refusal');
        resolve(undefined);
      },
    });
  });
}
