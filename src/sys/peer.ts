// Who is at the other end of a Unix socket, from the kernel (SO_PEERCRED), and whether that
// process runs in a container's sandbox: no_new_privs is set by the sandbox launcher, inherited by
// everything a handler starts, and can never be cleared. The second test reads /proc, which says
// nothing once the peer has exited (a short-lived child that connected and left): it can refuse a
// peer, never admit one. The control socket's gate is its token (runtime/supervisor/control-auth.ts).
import fs from 'node:fs';
import { sys } from './binding.js';

/** The file descriptor behind a net.Socket (Node keeps it on its private handle), or -1. */
export function socketFd(socket: unknown): number {
  const fd = (socket as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

export function peerOf(socket: unknown): { pid: number; uid: number; gid: number } | undefined {
  const fd = socketFd(socket);
  if (fd < 0) return undefined;
  try {
    return sys.peerCred(fd);
  } catch {
    return undefined;
  }
}

function noNewPrivs(pid: number | 'self'): boolean | undefined {
  try {
    const m = /^NoNewPrivs:\s+(\d)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? m[1] === '1' : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a sandboxed process (a container or anything its handler started) while this
 * process is not: it carries no_new_privs and this process does not. Where this process itself
 * runs with no_new_privs (a service manager set it), the test cannot tell and says false.
 */
export function isSandboxedPeer(pid: number): boolean {
  return noNewPrivs('self') === false && noNewPrivs(pid) === true;
}
