// Wires each child to the rest of the supervisor: the process table, its log file, the lifecycle
// events, the messages it sends (ready, listening, stuck replicas, replacement requests) and, at
// its exit, the restart policy, whose decision is carried out here.
import type { ProcessTable } from '../../shm/index.js';
import { parseEnforcement } from '../../sys/sandbox.js';
import type { Child } from './child.js';
import { logFileFor } from '../../common/paths.js';
import type { Parts } from './parts.js';
import { decide, describeExit, type ChildExit } from './policy.js';
import { replaceBadReplica } from './bad-link.js';
import { replaceGracefully } from './replace.js';
import { intensityOf } from './specs.js';

export interface WiringTarget extends Parts {
  readonly table: ProcessTable | undefined;
  /** Runs `fn` after `ms` unless a shutdown comes first. */
  later(fn: () => void, ms: number): void;
}

export function adopt(s: WiringTarget, c: Child): Child {
  const spec = c.spec;
  const who = () => `${spec.id}[${c.pid}]`;
  const file = logFileFor(spec.role, spec.functionId);
  // Its output lines' cuts and drops, kept across its restarts like `restarts` (in its table slot).
  const counts = { cut: 0, dropped: 0 };
  c.output = s.logs.bounds;
  c.on('output', (line, stream, cut) => {
    if (cut > 0) counts.cut++;
    // Only a function's output counts against logs.rate: the gateways' is the trusted side's.
    const said = s.logs.output(file, who(), line, cut, spec.role === 'container');
    if (said === undefined) counts.dropped++;
    // A child's own log lines are JSON ({level, msg}): its last error is the message itself.
    else if (stream === 'stderr' && said.trim()) c.lastError = said.slice(0, 500);
    if (s.table && c.slot >= 0) s.table.setLogCounts(c.slot, counts);
  });
  c.on('state', (state) => {
    if (s.table && c.slot >= 0) s.table.setState(c.slot, state);
    s.events.emit({ kind: 'child', id: spec.id, pid: c.pid, state, message: state === 'failed' || state === 'crashed' ? c.lastExit : '', at: Date.now() });
    s.writeState();
  });
  c.on('message', (m) => {
    if (m.type === 'replica-stuck' && spec.role === 'gateway') {
      const stuck = s.containers.runningPid(m.pid);
      if (stuck) {
        s.logs.write(logFileFor('container', stuck.spec.functionId), `${stuck.spec.id}[${stuck.pid}]`, `STUCK, killing it: ${m.reason}`);
        stuck.abort();
      }
    }
    if (m.type === 'replica-bad' && spec.role === 'gateway') replaceBadReplica(s, m, spec.replica);
    if (m.type === 'replace-me' && spec.role === 'container') {
      const f = s.functions.get(spec.functionId);
      if (f && c.state === 'ready' && !c.stopping && f.deployment === spec.deployment) replaceGracefully(s, c, f, m.reason);
    }
    if (m.type === 'listening' && spec.role === 'container') {
      s.containers.sendHandler(c);
      const f = s.containers.functionOf(c);
      if (f) s.gateways.linkAll(c, f.domain);
    }
    if (m.type === 'ready' && spec.role === 'container' && s.table && c.slot >= 0) s.table.setSandbox(c.slot, parseEnforcement(m.sandbox));
    if (m.type === 'ready' && spec.role === 'gateway') {
      if (m.port && spec.replica === 0) s.gateways.port = m.port;
      s.gateways.onReady(c, spec.replica, s.containers.withDomains());
      // A restarted gateway starts from its config; give it the live table.
      if (s.phase !== 'starting') void s.pushRoutes();
    }
  });
  c.on('exit', (exit) => onExit(s, c, exit));
  c.on('spawn', (pid) => {
    // Registered before the child can look itself up in the table (the container does).
    const domain = spec.role === 'container' ? s.domains.byName(s.containers.functionOf(c)?.domain ?? '') : undefined;
    if (s.table) c.slot = s.table.register(pid, { role: spec.role, functionId: spec.functionId, replica: spec.replica, deployment: spec.deployment, restarts: c.restarts, ...(domain ? { domainIndex: domain.index, statsSlot: c.statsSlot } : {}), logs: counts });
    s.logs.write(file, who(), `started (${spec.role}${spec.role === 'container' ? ` function ${spec.functionId} deployment ${spec.deployment} replica ${spec.replica}` : ''})`);
  });
  return c;
}

function onExit(s: WiringTarget, c: Child, exit: ChildExit): void {
  // Its packets may be in any domain segment (a gateway's are in all of them).
  const freed = s.domains.all().reduce((n, d) => n + (d.segment.isClosed ? 0 : d.segment.pool.reclaim(c.pid)), 0);
  if (s.table && c.slot >= 0) s.table.release(c.slot);
  c.slot = -1;
  c.lastExit = describeExit(exit);
  const file = logFileFor(c.spec.role, c.spec.functionId);
  const who = `${c.spec.id}[${c.pid}]`;
  // One line per exit: how it ended, what was reclaimed, the last error, what happens next.
  const detail = `${freed ? `; reclaimed ${freed} packet(s)` : ''}${c.lastError && !exit.requested && !exit.cause ? `; last error: ${c.lastError}` : ''}`;
  const action = decide(c.spec.restart, { history: c.history, restarts: c.restarts }, exit, intensityOf(s.cfg), s.stopping);
  if (action.action === 'none') {
    s.logs.write(file, who, `${c.lastExit}${detail}`);
    c.setState('stopped');
    return;
  }
  c.lastExit = action.reason;
  if (action.action === 'give-up') {
    s.logs.write(file, who, `GIVING UP: ${action.reason}${detail}`);
    c.setState('failed');
    if (c.spec.significant) void s.shutdown(`${c.spec.id} failed: ${action.reason}`, 1);
    else if (c.spec.role === 'container') s.pushRoutes().catch(() => undefined);
    return;
  }
  s.logs.write(file, who, `${action.reason}${detail}`);
  c.setState('crashed');
  s.later(() => {
    if (s.stopping || c.stopping) return c.setState('stopped');
    c.history = action.next.history;
    c.restarts = action.next.restarts;
    c.start();
  }, action.delayMs);
}
