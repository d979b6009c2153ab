// The CLI's side of the control socket.
import net from 'node:net';
import readline from 'node:readline';
import { FaasflowError } from '../common/errors.js';
import type { ControlReply, ControlRequest, SupervisorEvent } from '../common/protocol.js';

export interface RequestOptions {
  onEvent?: (e: SupervisorEvent) => void;
  /** For 'events': stop reading (and resolve) once this returns true. */
  until?: (e: SupervisorEvent) => boolean;
  /** Give up waiting after this long (a hung supervisor must not hang the CLI). */
  timeoutMs?: number;
}

export function controlRequest<T>(socketPath: string, req: ControlRequest, o: RequestOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const conn = net.connect(socketPath);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      conn.destroy();
    };
    conn.on('error', (err: NodeJS.ErrnoException) => {
      const gone = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      settle(() => reject(new FaasflowError(gone ? 'NOT_RUNNING' : 'CONTROL', gone ? `no supervisor answers on ${socketPath}` : `control socket ${socketPath}: ${err.message}`)));
    });
    conn.on('close', () => settle(() => reject(new FaasflowError('CONTROL', 'the supervisor closed the control connection without an answer (did it exit? see `faasflow logs`)'))));
    if (o.timeoutMs) {
      const timer = setTimeout(() => settle(() => reject(new FaasflowError('TIMEOUT', `the supervisor did not answer "${req.cmd}" within ${Math.round(o.timeoutMs! / 1000)} s (is it stuck? \`faasflow logs\` may say why)`))), o.timeoutMs);
      conn.once('close', () => clearTimeout(timer));
    }
    conn.write(`${JSON.stringify(req)}\n`);
    const lines = readline.createInterface({ input: conn });
    lines.on('error', () => undefined); // the socket's own 'error' handler reports it
    lines.on('line', (line) => {
      let r: ControlReply;
      try {
        r = JSON.parse(line) as ControlReply;
      } catch {
        return;
      }
      if (r.type === 'event') {
        o.onEvent?.(r.event);
        if (o.until?.(r.event)) settle(() => resolve(r.event as T));
      } else if (r.type === 'result') settle(() => resolve(r.result as T));
      else settle(() => reject(new FaasflowError(r.code, r.message)));
    });
  });
}
