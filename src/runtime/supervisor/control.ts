// The supervisor's answers on the control socket: status for `ps`, the event stream for `up`,
// deploys and the type check before them, and `down`, whose answer comes once everything has stopped. The client has proved it
// holds the token (control-socket.ts); its request is still checked before anything acts on it.
import fs from 'node:fs';
import path from 'node:path';
import { FaasflowError } from '../../common/errors.js';
import type { CheckAnswer, ControlRequest, DeployRequest, InstanceStatus } from '../../common/protocol.js';
import type { Reply } from './control-socket.js';
import { segmentName } from '../../shm/index.js';
import { deploy } from './deploy.js';
import type { Parts } from './parts.js';
import type { HandlerChecker } from './checker.js';
import { sampleMemoryAll, type MemorySample } from '../../observe/memory.js';

export interface ControlTarget extends Parts {
  status(withMemory: boolean): InstanceStatus;
  /** Resolves once a shutdown has stopped everything (the socket answers `down` after that). */
  readonly stopped: Promise<void>;
  readonly checker: HandlerChecker;
}

export async function handleControl(s: ControlTarget, req: ControlRequest, reply: Reply, closed: Promise<void>): Promise<unknown> {
  switch (req.cmd) {
    case 'status': {
      // Memory first, every process at once off the event loop (each read walks a process's page tables).
      const running = [...s.gateways.all(), ...s.queue.all(), ...s.containers.all(), ...s.spares.all().map((sp) => sp.c)].filter((c) => c.running).map((c) => c.pid);
      const memory = await sampleMemoryAll([process.pid, ...running]);
      const status = s.status(false);
      return { ...status, children: status.children.map((c) => ({ ...c, memory: figures(memory.get(c.pid)) })) } satisfies InstanceStatus;
    }
    case 'events': {
      const unfollow = s.events.follow((event) => reply({ type: 'event', event }), true);
      await Promise.race([closed, s.stopped]);
      unfollow();
      return undefined;
    }
    case 'deploy':
      checkDeploy(req.fn, s.paths.bundles);
      return s.serially(() => deploy(s, req.fn, (message) => reply({ type: 'event', event: { kind: 'info', message, at: Date.now() } })));
    case 'check': {
      const r = await s.checker.check(checkSources(req.sources, req.cwd), req.cwd);
      if ('unavailable' in r) return { checked: false, reason: r.unavailable } satisfies CheckAnswer;
      if (!r.ok) throw new FaasflowError('HANDLER', r.message);
      return { checked: true, deps: r.deps } satisfies CheckAnswer;
    }
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

/** What `ps` shows of a sample. */
function figures(m: MemorySample | undefined): InstanceStatus['children'][number]['memory'] {
  return m ? { rss: m.rss, pss: m.pss, privateBytes: m.privateBytes, sharedBytes: m.sharedBytes, shmBytes: m.shmBytes } : null;
}

const optional = (v: unknown, type: string) => v === undefined || typeof v === type;

/** Handlers one check may name: a deploy names one, `up` a config's worth. */
const MAX_CHECK_SOURCES = 256;

/** A check names existing absolute paths (what the CLI resolved) and the CLI's directory; returns the sources. */
export function checkSources(sources: unknown, cwd: unknown): string[] {
  const bad = (why: string) => new FaasflowError('CONTROL', `check request refused: ${why}`);
  const absolute = (p: unknown): p is string => typeof p === 'string' && p.length > 0 && p.length <= 4096 && path.isAbsolute(p) && !p.includes('\0');
  if (!absolute(cwd)) throw bad('cwd must be an absolute path');
  if (!Array.isArray(sources) || sources.length === 0 || sources.length > MAX_CHECK_SOURCES) throw bad(`it needs 1 to ${MAX_CHECK_SOURCES} handler sources`);
  if (!sources.every(absolute)) throw bad('every source must be an absolute path');
  return sources.map((f) => path.normalize(f));
}

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
