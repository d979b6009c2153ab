// `faasflow deploy`: start the new version's replicas, switch the gateways' routing once they are
// ready, then drain the old ones. A version that does not start changes nothing.
import fs from 'node:fs';
import path from 'node:path';
import { defaultFunction } from '../../config/load.js';
import { flowsUsing, lowestFlowRow } from '../../config/flows.js';
import { FaasflowError } from '../../common/errors.js';
import { missingSecretsError, secretsMissingFor } from '../../common/secrets.js';
import type { DeployRequest, DeployResult } from '../../common/protocol.js';
import type { FnEntry } from './deployments.js';
import type { Parts } from './parts.js';

export interface NameQuery {
  id: number;
  /** `--name`, when given. */
  requested?: string;
  /** The handler file deployed (absolute). */
  source: string;
  /** What the file's name makes the function's name (`resize.ts` → `resize`). */
  fileName: string;
  /** The function now serving under this id, if any. */
  current?: { name: string; handler: string };
  /** Every function: a name must be unique. */
  functions: Iterable<{ id: number; name: string }>;
}

export type NameAnswer = { name: string } | { refused: string };

/**
 * The name a deploy gives its function. A different handler file is a different function to the
 * user (resize deployed over uppercase is "resize" in ps and top); a new version of the same file
 * keeps the name. A name derived from the file may be another function's already (resize.ts as
 * id 2 next to the example resize as id 5): the id makes it unique. A `--name` another function
 * has is refused.
 */
export function deployName(q: NameQuery): NameAnswer {
  const sameFile = q.current !== undefined && path.resolve(q.current.handler) === path.resolve(q.source);
  const name = q.requested ?? (sameFile ? q.current!.name : q.fileName);
  const clash = [...q.functions].find((f) => f.id !== q.id && f.name === name);
  if (!clash) return { name };
  if (q.requested !== undefined) return { refused: `function ${clash.id} is already named "${name}": pick another --name (names identify functions in ps, top and /metrics)` };
  return { name: `${name}-${q.id}` };
}

export async function deploy(s: Parts, req: DeployRequest, note: (m: string) => void): Promise<DeployResult> {
  if (s.phase !== 'running') throw new FaasflowError('DEPLOY_FAILED', `the instance is ${s.phase}; deploy once it runs`);
  const old = s.functions.get(req.id);
  const fresh = defaultFunction(req.id, req.source);
  const named = deployName({ id: req.id, requested: req.name, source: req.source, fileName: fresh.name, current: old, functions: s.functions.values() });
  if ('refused' in named) throw new FaasflowError('DEPLOY_FAILED', named.refused);
  const base = old ?? fresh;
  if (base.scale && req.replicas !== undefined && req.replicas > base.scale.max) throw new FaasflowError('DEPLOY_FAILED', `--replicas ${req.replicas} is above function ${req.id}'s scale.max (${base.scale.max}): give at most ${base.scale.max}, or raise scale.max in the config`);
  // An elastic function's new version starts as many as serve now (one at least: the deploy proves it starts).
  const replicas = req.replicas ?? (base.scale ? Math.max(1, s.scaler?.desired(req.id) ?? base.replicas) : base.replicas);
  const next: FnEntry = { ...base, name: named.name, handler: req.source, replicas, deployment: s.deployments.next(req.id), bundle: req.bundle, source: req.source, origin: 'deploy' };
  if (next.id >= s.cfg.segment.maxFunctions) throw new FaasflowError('DEPLOY_FAILED', `function id ${next.id} does not fit: ids go up to ${s.cfg.segment.maxFunctions - 1} (segment.maxFunctions)`);
  // The flows' stats rows are at the top of the table: a function there would share a row with one.
  const flowRows = lowestFlowRow(s.cfg.flows, s.cfg.segment.maxFunctions);
  if (flowRows <= next.id) throw new FaasflowError('DEPLOY_FAILED', `function id ${next.id} is in the stats rows the config's flows use (${flowRows}..${s.cfg.segment.maxFunctions - 1}): pick an id below ${flowRows}, or raise segment.maxFunctions`);
  const missing = secretsMissingFor(s.paths.secrets, [next]);
  if (missing.length) throw missingSecretsError(missing);
  note(`starting ${next.replicas} replica(s) of ${next.name} deployment ${next.deployment}`);
  const started = Array.from({ length: next.replicas }, (_, r) => s.containers.start(next, r));
  const bad = (await Promise.all(started.map((c) => c.outcome()))).find((o) => !o.ready);
  if (bad && !bad.ready) {
    await Promise.all(started.map((c) => c.stop()));
    s.containers.drop(started);
    throw new FaasflowError('DEPLOY_FAILED', `deployment ${next.deployment} of function ${next.id} did not start, nothing changed: ${bad.reason}`);
  }
  note(`${started.length} replica(s) ready; switching routes`);
  s.functions.set(next.id, next);
  try {
    await s.pushRoutes();
  } catch (err) {
    if (old) s.functions.set(old.id, old);
    else s.functions.delete(next.id);
    await Promise.all(started.map((c) => c.stop()));
    s.containers.drop(started);
    throw err;
  }
  s.deployments.save(s.functions.values());
  s.scaler?.reset(next, started.length);
  const retired = s.containers.of(next.id).filter((c) => c.spec.deployment !== next.deployment);
  note(`routes switched; draining ${retired.length} old replica(s)`);
  const stopped = retired.map((c) => c.pid);
  await Promise.all(retired.map((c) => c.stop()));
  s.containers.drop(retired);
  if (old && old.bundle !== next.bundle && ![...s.functions.values()].some((f) => path.dirname(f.bundle) === path.dirname(old.bundle))) {
    fs.rmSync(path.dirname(old.bundle), { recursive: true, force: true });
  }
  s.writeState();
  s.events.info(`deployed function ${next.id} (${next.name}) deployment ${next.deployment} from ${next.source}`);
  const replaced = old && path.resolve(old.source) !== path.resolve(next.source) ? { name: old.name, source: old.source } : undefined;
  return { id: next.id, name: next.name, deployment: next.deployment, previous: old?.deployment ?? null, replicas: next.replicas, stopped, ...(replaced ? { replaced } : {}), flows: flowsUsing(s.cfg.flows, next.id) };
}

