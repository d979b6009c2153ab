// What `ps` and the state file show of each supervised process.
import type { ChildStatus, MemoryFigures } from '../../common/protocol.js';
import { startTime } from '../../common/procs.js';
import { sampleMemory } from '../../observe/memory.js';
import { enforcementName, parseEnforcement } from '../../sys/sandbox.js';
import type { Child } from './child.js';

function memory(pid: number): MemoryFigures | null {
  const m = sampleMemory(pid);
  return m && { rss: m.rss, pss: m.pss, privateBytes: m.privateBytes, sharedBytes: m.sharedBytes, shmBytes: m.shmBytes };
}

export function childStatus(c: Child, names: Map<number, string>, withMemory: boolean, domain?: string): ChildStatus {
  return {
    id: c.spec.id,
    role: c.spec.role,
    functionId: c.spec.functionId,
    functionName: names.get(c.spec.functionId) ?? '',
    deployment: c.spec.deployment,
    replica: c.spec.replica,
    pid: c.pid,
    state: c.state,
    startedAt: c.startedAt,
    startTime: c.startTime,
    restarts: c.restarts,
    lastExit: c.lastExit,
    memory: withMemory && c.running ? memory(c.pid) : null,
    ...(c.spec.role === 'container' ? { domain: domain ?? '', sandbox: c.sandbox ? enforcementName(parseEnforcement(c.sandbox)) : c.spec.start.wrapper ? '' : 'none' } : {}),
  };
}

export function selfStatus(startedAt: number, withMemory: boolean): ChildStatus {
  return { id: 'supervisor', role: 'supervisor', functionId: 0, functionName: '', deployment: 0, replica: 0, pid: process.pid, state: 'ready', startedAt, startTime: startTime(process.pid), restarts: 0, lastExit: '', memory: withMemory ? memory(process.pid) : null };
}

const ROLE_ORDER = ['supervisor', 'gateway', 'queue', 'container'];

/** The gateway first (then the async queue), then containers by function, deployment and replica. */
export function byRoleAndFunction(a: ChildStatus, b: ChildStatus): number {
  if (a.role !== b.role) return ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role);
  return a.functionId - b.functionId || a.deployment - b.deployment || a.replica - b.replica;
}
