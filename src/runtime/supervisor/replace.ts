// Replacing a replica without failing a request: a fresh one starts, and only once it is ready is
// the old one drained and stopped. Used for a replica over its function's memoryLimit (sampled
// here) and for one that asks to be replaced (handlers that outlived their timeout hold packets).
import { sampleMemory } from '../../observe/memory.js';
import type { Child } from './child.js';
import type { FnEntry } from './deployments.js';
import { logFileFor } from '../../common/paths.js';
import type { Parts } from './parts.js';

/** Private memory past a function's memoryLimit: start a replacement, then drain the old one. */
export function enforceMemoryLimits(s: Parts): void {
  for (const c of s.containers.all()) {
    const f = s.functions.get(c.spec.functionId);
    if (!f || f.memoryLimit <= 0 || c.state !== 'ready' || c.stopping || f.deployment !== c.spec.deployment) continue;
    const m = sampleMemory(c.pid);
    if (!m || m.privateBytes <= f.memoryLimit) continue;
    replaceGracefully(s, c, f, `private memory ${m.privateBytes} B is over memoryLimit ${f.memoryLimit} B`);
  }
}

export function replaceGracefully(s: Parts, c: Child, f: FnEntry, reason: string): void {
  c.stopping = true;
  s.logs.write(logFileFor('container', f.id), `${c.spec.id}[${c.pid}]`, `${reason}: replacing the replica gracefully`);
  const fresh = s.containers.start(f, c.spec.replica, c.restarts + 1);
  void fresh.outcome().then(async (o) => {
    // If the replacement cannot start, the old replica keeps serving; the next check retries.
    const [retire, keep] = o.ready ? [c, fresh] : [fresh, c];
    await retire.stop();
    keep.stopping = false;
    s.containers.drop([retire]);
    s.writeState();
  });
}
