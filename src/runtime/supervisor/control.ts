// The supervisor's answers on the control socket: status for `ps`, the event stream for `up`,
// deploys, and `down`, whose answer comes once everything has stopped.
import { FaasflowError } from '../../common/errors.js';
import type { ControlRequest, InstanceStatus } from '../../common/protocol.js';
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
      return s.serially(() => deploy(s, req.fn, (message) => reply({ type: 'event', event: { kind: 'info', message, at: Date.now() } })));
    case 'down': {
      const pids = [...s.gateways.all(), ...s.containers.all()].filter((c) => c.running).map((c) => c.pid);
      const segments = [segmentName(s.cfg.instance), ...s.domains.all().map((d) => d.segment.name)];
      const unfollow = s.events.follow((event) => reply({ type: 'event', event }), false);
      void s.shutdown('faasflow down', 0, req.timeoutMs);
      await s.stopped;
      unfollow();
      return { stopped: pids, segment: segmentName(s.cfg.instance), segments, supervisorPid: process.pid };
    }
    default:
      throw new FaasflowError('CONTROL', `unknown control command ${JSON.stringify((req as { cmd?: unknown }).cmd)}`);
  }
}
