// Is an instance running, gone, stale (its supervisor died and left processes, a segment or control
// files behind), or is its segment someone else's? Read from the state file, /proc and the
// segment's header alone: every command asks this first, so it loads neither the native module
// nor anything else it does not need.
import fs from 'node:fs';
import { creatorOf } from '../shm/locate.js';
import { segmentName, segmentPath, type InstancePaths } from '../common/paths.js';
import type { InstanceStatus } from '../common/protocol.js';
import { readState } from '../common/state.js';
import { isFaasflowProcess, procStat, processAlive, sameProcess } from '../common/procs.js';

export type InstanceHealth =
  | { kind: 'absent' }
  | { kind: 'running'; state: InstanceStatus }
  | { kind: 'stale'; state?: InstanceStatus; reason: string }
  /** The segment exists and its creator lives, but no state file here points to it. */
  | { kind: 'foreign'; creatorPid: number; /** Its file, /dev/shm/faasflow-<instance>. */ segment: string };

/** The pid that created segment `name`, from its header read as a file; undefined when it has none that checks out. */
export function segmentCreator(name: string): number | undefined {
  return creatorOf(segmentPath(name), name);
}

export function inspectInstance(p: InstancePaths): InstanceHealth {
  const state = readState(p.state);
  const seg = segmentName(p.instance);
  if (state) {
    // The recorded start time tells our supervisor from a reused pid (another instance's, even).
    const recorded = state.children.find((c) => c.role === 'supervisor' && c.pid === state.supervisorPid)?.startTime;
    if (isFaasflowProcess(state.supervisorPid, 'supervisor') && sameProcess(state.supervisorPid, recorded)) return { kind: 'running', state };
    return { kind: 'stale', state, reason: `supervisor pid ${state.supervisorPid} is no longer running` };
  }
  if (fs.existsSync(segmentPath(seg))) {
    const creator = segmentCreator(seg);
    if (creator !== undefined && processAlive(creator)) return { kind: 'foreign', creatorPid: creator, segment: segmentPath(seg) };
    return { kind: 'stale', reason: `segment ${segmentPath(seg)} was left behind by ${creator ? `pid ${creator}, which is gone` : 'a crashed process (unreadable header)'}` };
  }
  if (fs.existsSync(p.socket)) return { kind: 'stale', reason: `control socket ${p.socket} has no supervisor` };
  return { kind: 'absent' };
}

/**
 * Why a running supervisor cannot answer on its control socket, or undefined when it may: it is
 * stopped (SIGSTOP, a debugger: the kernel queues the connection and nobody ever reads it), or
 * its socket or token is gone. `ps` says so at once; `down` stops it by signals instead.
 */
export function silentReason(p: InstancePaths, state: InstanceStatus): string | undefined {
  const pid = state.supervisorPid;
  const st = procStat(pid)?.state;
  if (st === 'T' || st === 't') return `its supervisor (pid ${pid}) is stopped (SIGSTOP or a debugger) and answers nothing`;
  if (!fs.existsSync(p.socket)) return `its supervisor (pid ${pid}) runs, but its control socket ${p.socket} is missing`;
  if (!fs.existsSync(p.token)) return `its supervisor (pid ${pid}) runs, but its control token ${p.token} is missing`;
  return undefined;
}
