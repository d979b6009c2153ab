// What a container serves: a replica started for its function reads it from its environment; a
// warm spare (FAASFLOW_SPARE=1: started and sandboxed as its domain's replicas are, with no
// function) waits for the supervisor's `adopt` message and takes the same fields from it. Until
// then a spare holds only its domain segment and faasflow's own code: a stop, or the supervisor
// going, ends it at once (there is nothing to drain).
import { ENV } from '../../common/env.js';
import { requireEnv, supervisor } from '../child.js';
import type { AdoptMessage } from '../protocol.js';

export type ReplicaIdentity = Omit<AdoptMessage, 'type'>;

export const isSpare = process.env[ENV.spare] === '1';

function fromEnv(): ReplicaIdentity {
  return {
    functionId: Number(requireEnv(ENV.functionId)),
    deployment: Number(requireEnv(ENV.deployment)),
    replica: Number(process.env[ENV.replica] ?? 0),
    timeoutMs: Number(process.env[ENV.timeoutMs] ?? 30000),
    concurrency: Math.max(1, Number(process.env[ENV.concurrency] ?? 16) || 16),
    statsSlot: Number(process.env[ENV.statsSlot] ?? -1),
    handler: requireEnv(ENV.handler),
  };
}

/** Resolves with what this process serves: at once for a replica, at its adoption for a spare. Call before reporting `listening`. */
export function replicaIdentity(): Promise<ReplicaIdentity> {
  if (!isSpare) return Promise.resolve(fromEnv());
  let adopted = false;
  const idle = () => {
    if (!adopted) process.exit(0);
  };
  process.once('SIGTERM', idle);
  process.once('SIGINT', idle);
  supervisor?.onEnd(idle);
  return new Promise((resolve) => {
    supervisor?.on('adopt', (m) => {
      // One adoption per process: the supervisor sends one, and a second would change what a running replica is.
      if (adopted) return;
      adopted = true;
      const { type: _type, ...id } = m;
      resolve(id);
    });
  });
}
