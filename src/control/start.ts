// The CLI's side of starting an instance, around the supervisor's own steps: taking the start lock
// and recovering a stale instance before, and after a start that failed (or was aborted), making
// sure nothing of it is left.
import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { FaasflowError } from '../common/errors.js';
import type { InstancePaths } from '../common/paths.js';
import { inspectInstance } from './health.js';
import { cleanStale, describeClean, type CleanReport } from './instance.js';
import { exited } from './launch.js';
import { recordLocation } from './location.js';
import { lockStart } from './lock.js';
import { ensureStateDir, migrateDeployments } from '../common/state-dir.js';

export interface Prepared {
  /** Releases the instance's start lock, held from the stale check until the start is over. */
  unlock: () => void;
  /** What a stale instance of the same name left and was removed, and why it was stale. */
  recovered: { reason: string; report: CleanReport } | null;
}

/**
 * Takes the start lock and makes room: refuses while the instance runs (or its segment belongs
 * to a live process elsewhere), cleans up after a stale one, and records where this start puts
 * the instance for the other commands.
 */
export function prepareStart(p: InstancePaths): Prepared {
  const unlock = lockStart(p);
  try {
    const h = inspectInstance(p);
    if (h.kind === 'running') throw new FaasflowError('ALREADY_RUNNING', `instance "${p.instance}" is already running (supervisor pid ${h.state.supervisorPid}, http://${h.state.host}:${h.state.port}): run \`faasflow down --instance ${p.instance}\` first or pick another --instance`);
    if (h.kind === 'foreign') throw new FaasflowError('ALREADY_RUNNING', `segment ${h.segment} belongs to running pid ${h.creatorPid} (an instance with another runtime directory?): stop it or pick another --instance`);
    const recovered = h.kind === 'stale' ? { reason: h.reason, report: cleanStale(p, h.state) } : null;
    migrateDeployments(p.dir, p);
    ensureStateDir(p);
    recordLocation(p);
    return { unlock, recovered };
  } catch (err) {
    unlock();
    throw err;
  }
}

export function describeRecovery(r: Prepared['recovered']): string {
  return r ? `Stale instance recovered: ${r.reason}; ${describeClean(r.report)}` : 'No previous instance';
}

/**
 * After a start that failed, whatever failed: the supervisor we started has exited before we
 * report, and nothing of this start is left (a supervisor killed early may not have cleaned up
 * itself).
 */
export async function cleanFailedStart(supervisor: ChildProcess, p: InstancePaths): Promise<void> {
  await exited(supervisor);
  const h = inspectInstance(p);
  if (h.kind === 'stale') cleanStale(p, h.state);
  fs.rmSync(p.config, { force: true });
}

/** `up --reset`: the config as written, without what `faasflow deploy` added. */
export function forgetDeployments(p: InstancePaths): void {
  for (const f of [p.deployments, p.bundles]) fs.rmSync(f, { recursive: true, force: true });
}
