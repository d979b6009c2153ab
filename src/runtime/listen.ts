// The gateways' listening sockets (SO_REUSEPORT: each gateway has its own accept queue on the
// shared port), made by the native module because Node 20 has no reusePort, with the error a user
// can act on when the port cannot be had.
import { sys } from '../sys/binding.js';

/** Node defaults to a backlog of 511: a burst of a thousand new connections would be refused. */
const BACKLOG = 4096;

/**
 * A listening socket on host:port for server.listen({ fd }); throws a message naming the fix.
 * `reusePort` false for a socket only one listener binds (the admin port).
 */
export function listenSocket(host: string, port: number, reusePort = true): number {
  try {
    return sys.listenTcp(host, port, BACKLOG, reusePort);
  } catch (err) {
    throw listenError(err as NodeJS.ErrnoException, host, port);
  }
}

/** Marked permanent: a restart cannot make the port free or allowed. */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const why = err.code === 'EADDRINUSE'
    ? `port ${port} on ${host} is already in use: stop what uses it (\`ss -ltnp 'sport = :${port}'\`) or set gateway.port in faasflow.config.ts`
    : err.code === 'EACCES' ? `no permission to listen on port ${port}: use a port above 1023` : `cannot listen on ${host}:${port}: ${err.message}`;
  return Object.assign(new Error(why), { permanent: true });
}
