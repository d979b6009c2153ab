// "Bytes held per byte in flight" of a cell: while the load runs, a setup's packet memory is
// sampled every 100 ms (packet bytes held, body bytes they carry); the figure is the sum of the one
// over the sum of the other, so the moments with more in flight weigh more.
import type { RunningSetup } from './setups.js';

const EVERY_MS = 100;

export interface OccupancySampler {
  /** Stops sampling: packet bytes held per body byte carried, or undefined with nothing in flight. */
  stop(): number | undefined;
}

export function sampleOccupancy(setup: RunningSetup): OccupancySampler | undefined {
  const memory = setup.memory;
  if (!memory) return undefined;
  let held = 0;
  let carried = 0;
  const timer = setInterval(() => {
    try {
      const m = memory();
      held += m.held;
      carried += m.carried;
    } catch {
      // the setup is going away: no sample
    }
  }, EVERY_MS);
  return {
    stop: () => {
      clearInterval(timer);
      return carried > 0 ? held / carried : undefined;
    },
  };
}
