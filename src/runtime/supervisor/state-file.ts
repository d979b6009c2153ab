// The instance as `ps` sees it, and the state file: what `down` and the next `up` know of the
// instance when its supervisor is gone. Written after every change of a child's state.
import { readState, writeJsonAtomic } from '../../common/state.js';
import type { InstanceStatus } from '../../common/protocol.js';
import { segmentName } from '../../shm/index.js';
import { byRoleAndFunction, childStatus, selfStatus } from './status.js';
import type { Parts } from './parts.js';
import { logFileFor } from '../../common/paths.js';
import { stopWait } from './stop.js';

export function instanceStatus(s: Parts, startedAt: number, withMemory: boolean): InstanceStatus {
  const names = new Map([...s.functions.values()].map((f) => [f.id, f.name]));
  const children = [
    ...s.gateways.all().map((g) => childStatus(g, names, withMemory)),
    ...s.queue.all().map((q) => ({ ...childStatus(q, names, withMemory), ...(s.queue.stats ? { queue: s.queue.stats } : {}) })),
    ...s.containers.all().map((c) => childStatus(c, names, withMemory, s.containers.functionOf(c)?.domain)),
    ...s.spares.all().map(({ c, domain }) => ({ ...childStatus(c, names, withMemory, domain), spare: true })),
  ];
  const spares = s.spares.summary();
  return {
    instance: s.cfg.instance,
    supervisorPid: process.pid,
    startedAt,
    state: s.phase,
    host: s.cfg.gateway.host,
    port: s.gateways.port,
    segment: segmentName(s.cfg.instance),
    runtimeDir: s.paths.dir,
    configFile: s.cfg.file,
    children: [selfStatus(startedAt, withMemory), ...children.sort(byRoleAndFunction)],
    functions: [...s.functions.values()].map((f) => ({
      id: f.id, name: f.name, source: f.source, bundle: f.bundle, deployment: f.deployment, replicas: f.replicas,
      desired: s.scaler?.desired(f.id) ?? f.replicas,
      ready: s.containers.of(f.id, f.deployment).filter((c) => c.state === 'ready' && !c.stopping).length,
      ...(f.scale ? { scale: f.scale } : {}),
      origin: f.origin,
    })),
    ...(spares.length ? { spares } : {}),
    stop: stopWait(s),
  };
}

/**
 * Writes the state file; a failure is logged, never fatal. Once a shutdown removed it, it stays
 * removed, and a stopping supervisor never writes over a state file another supervisor wrote.
 */
export function writeStateFile(s: Parts, status: () => InstanceStatus): void {
  if (s.phase === 'stopping' && readState(s.paths.state)?.supervisorPid !== process.pid) return;
  try {
    writeJsonAtomic(s.paths.state, status());
  } catch (err) {
    s.logs.write(logFileFor('supervisor'), `supervisor[${process.pid}]`, `cannot write ${s.paths.state}: ${(err as Error).message}`);
  }
}
