// The CLI's side of the control socket: the token the supervisor wrote into the runtime directory
// first (only the instance's user can read it), then one JSON request; replies are JSON lines.
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import { FaasflowError } from '../common/errors.js';
import type { InstanceFiles } from '../common/paths.js';
import type { ControlReply, ControlRequest, SupervisorEvent } from '../common/protocol.js';

export interface RequestOptions {
  onEvent?: (e: SupervisorEvent) => void;
  /** For 'events': stop reading (and resolve) once this returns true. */
  until?: (e: SupervisorEvent) => boolean;
  /** Give up waiting after this long (a hung supervisor must not hang the CLI). */
  timeoutMs?: number;
  /** Give up if not even a first line comes within this long (a supervisor that says nothing). */
  firstReplyMs?: number;
}

/** The control token, or the error that says why it cannot be had. */
function readToken(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FaasflowError('NOT_RUNNING', `no supervisor answers here: its control token ${file} is missing`);
    throw new FaasflowError('CONTROL', `cannot read the control token ${file} (${code ?? (err as Error).message}): run faasflow as the user that started the instance`);
  }
}

export function controlRequest<T>(at: Pick<InstanceFiles, 'socket' | 'token'>, req: ControlRequest, o: RequestOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let token: string;
    try {
      token = readToken(at.token);
    } catch (err) {
      reject(err as Error);
      return;
    }
    const conn = net.connect(at.socket);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      conn.destroy();
    };
    conn.on('error', (err: NodeJS.ErrnoException) => {
      const gone = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      settle(() => reject(new FaasflowError(gone ? 'NOT_RUNNING' : 'CONTROL', gone ? `no supervisor answers on ${at.socket}` : `control socket ${at.socket}: ${err.message}`)));
    });
    conn.on('close', () => settle(() => reject(new FaasflowError('CONTROL', 'the supervisor closed the control connection without an answer (did it exit? see `faasflow logs`)'))));
    const silent = (ms: number) => () => settle(() => reject(new FaasflowError('TIMEOUT', `the supervisor did not answer "${req.cmd}" within ${Math.round(ms / 1000)} s (is it stuck? \`faasflow logs\` may say why)`)));
    const timers = [o.timeoutMs && setTimeout(silent(o.timeoutMs), o.timeoutMs), o.firstReplyMs && setTimeout(silent(o.firstReplyMs), o.firstReplyMs)];
    conn.once('close', () => timers.forEach((t) => t && clearTimeout(t)));
    conn.write(`${token}\n${JSON.stringify(req)}\n`);
    const lines = readline.createInterface({ input: conn });
    lines.on('error', () => undefined); // the socket's own 'error' handler reports it
    lines.on('line', (line) => {
      if (timers[1]) clearTimeout(timers[1]);
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
