// Reading a running instance for ps, invoke and deploy: a clear error when it is not running.
import fs from 'node:fs';
import { controlRequest } from './client.js';
import { FaasflowError } from '../common/errors.js';
import { inspectInstance, silentReason } from './health.js';
import type { InstancePaths } from '../common/paths.js';
import type { InstanceStatus } from '../common/protocol.js';

export function requireRunning(p: InstancePaths): InstanceStatus {
  const h = inspectInstance(p);
  if (h.kind === 'running') return h.state;
  if (h.kind === 'stale') throw new FaasflowError('STALE', `instance "${p.instance}" is stale: ${h.reason}. Run \`faasflow up --instance ${p.instance}\` to recover it or \`faasflow down --clean-shm --instance ${p.instance}\` to clean up`);
  const up = `faasflow up${p.instance === 'default' ? '' : ` --instance ${p.instance}`}`;
  // A stopped instance keeps its logs and deployments; one that never ran here has no directory.
  const kept = fs.existsSync(p.dir) ? `stopped; its logs are kept in ${p.logs} (\`faasflow down --purge${p.instance === 'default' ? '' : ` --instance ${p.instance}`}\` removes them)` : `it never ran here: no ${p.dir}`;
  throw new FaasflowError('NOT_RUNNING', `instance "${p.instance}" is not running (${kept}): start it with \`${up}\``);
}

export async function liveStatus(p: InstancePaths): Promise<InstanceStatus> {
  const silent = silentReason(p, requireRunning(p));
  if (silent) throw new FaasflowError('CONTROL', `instance "${p.instance}" is running but cannot be asked: ${silent}. \`faasflow down --instance ${p.instance}\` stops it`);
  return controlRequest<InstanceStatus>(p, { cmd: 'status' }, { timeoutMs: 15_000 });
}
