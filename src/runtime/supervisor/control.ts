// The supervisor's answers on the control socket: status for `ps`, the event stream for `up`,
// deploys, and `down`, whose answer comes once everything has stopped. The client has proved it
// holds the token (control-socket.ts); its request is still checked before anything acts on it.
import fs from 'node:fs';
import path from 'node:path';
import { FaasflowError } from '../../common/errors.js';
import type { ControlRequest, DeployRequest, InstanceStatus } from '../../common/protocol.js';
import type { Reply } from './control-socket.js';
import { segmentName } from '../../shm/index.js';
import { deploy } from './deploy.js';
import type { Parts } from './parts.js';

export interface ControlTarget extends Parts {
  status(withMemory: boolean): InstanceStatus;
  /** Resolves once a shutdown has stopped everything (the socket answers `down` after that). */
  readonly stopped: Promise<void>;
}

export async function handleControl(s: ControlTarget, req: ControlRequest, reply: Reply, closed: Promise<void>): Promise<unknown> {
  switch (req.cmd) {
    case 'status':
      return s.status(true);
    case 'events': {
      const unfollow = s.events.follow((event) => reply({ type: 'event', event }), true);
      await Promise.race([closed, s.stopped]);
      unfollow();
      return undefined;
    }
    case 'deploy':
      checkDeploy(req.fn, s.paths.bundles);
      return s.serially(() => deploy(s, req.fn, (message) => reply({ type: 'event', event: { kind: 'info', message, at: Date.now() } })));
    case 'down': {
      const pids = [...s.gateways.all(), ...s.containers.all()].filter((c) => c.running).map((c) => c.pid);
      const segments = [segmentName(s.cfg.instance), ...s.domains.all().map((d) => d.segment.name)];
      const unfollow = s.events.follow((event) => reply({ type: 'event', event }), false);
      void s.shutdown('faasflow down', 0, Number.isFinite(req.timeoutMs) && req.timeoutMs! >= 0 ? req.timeoutMs : undefined);
      await s.stopped;
      unfollow();
      return { stopped: pids, segment: segmentName(s.cfg.instance), segments, supervisorPid: process.pid };
    }
    default:
      throw new FaasflowError('CONTROL', `unknown control command ${JSON.stringify((req as { cmd?: unknown }).cmd)}`);
  }
}

const optional = (v: unknown, type: string) => v === undefined || typeof v === type;

/**
 * A deploy names a bundle the CLI built inside this instance's bundles directory: before anything
 * reads it, the path must have no `..` and resolve (symlinks followed) to a file inside it.
 */
export function checkDeploy(fn: DeployRequest, bundlesDir: string): void {
  const bad = (why: string) => new FaasflowError('DEPLOY_FAILED', `deploy request refused: ${why}`);
  if (typeof fn !== 'object' || fn === null || !Number.isInteger(fn.id) || typeof fn.source !== 'string' || typeof fn.bundle !== 'string') throw bad('it needs an integer id, a source and a bundle path');
  if (!optional(fn.name, 'string') || !(fn.replicas === undefined || Number.isInteger(fn.replicas))) throw bad('name must be a string and replicas an integer');
  const bundle = fn.bundle;
  if (!path.isAbsolute(bundle) || bundle.split(/[\\/]/).includes('..')) throw bad(`bundle ${JSON.stringify(bundle)} must be an absolute path without ".."`);
  let inside: boolean;
  try {
    const root = fs.realpathSync(bundlesDir);
    const real = fs.realpathSync(bundle);
    inside = real.startsWith(`${root}${path.sep}`) && fs.statSync(real).isFile();
  } catch (err) {
    throw bad(`bundle ${bundle} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): \`faasflow deploy\` builds it in ${bundlesDir}`);
  }
  if (!inside) throw bad(`bundle ${bundle} is not a file inside ${bundlesDir} (a symlink may not lead out of it): \`faasflow deploy\` builds it there`);
}
