// Finds and loads the process-level addons (native/sys.cc, native/fdpass.cc); nothing else.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface NativeSys {
  /** Bytes read (> 0); 0: nothing within `micros`; -1: end of stream; -errno. cpuOut[0]: CPU µs the poll used. */
  spinRecv(fd: number, buffer: Uint8Array, micros: number, cpuOut?: Float64Array): number;
  setAffinity(cpus: number[]): void;
  /** setpgid(0, 0): leader of a new process group, same session. Returns the group id. */
  ownProcessGroup(): number;
  /** A connected pair of Unix stream sockets (close-on-exec). */
  socketPair(): [number, number];
  closeFd(fd: number): void;
  /** The kernel's Landlock ABI version; 0 without Landlock. */
  landlockAbi(): number;
  /** A listening TCP socket (SO_REUSEPORT when asked) for server.listen({ fd }). Throws with code EADDRINUSE, EACCES, … */
  listenTcp(host: string, port: number, backlog: number, reusePort: boolean): number;
  /** The kernel's record of who is at the other end of a Unix socket. */
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  /** Gives the pages of a range of a shared mapping's view back to its file (MADV_REMOVE); whole pages only. */
  releasePages(view: ArrayBuffer, offset: number, length: number): void;
}

/** Descriptor passing from the supervisor to a container (native/fdpass.cc): one way, never blocking. */
export interface NativeFdPass {
  /** A SOCK_SEQPACKET pair, close-on-exec: [the supervisor's end (shut for reading), the container's]. */
  fdChannel(): [number, number];
  /** Sends `fd` with `tag`: 0 when sent, else the errno (EAGAIN: the receiver's queue is full; EPIPE: it is gone). */
  sendFd(socket: number, fd: number, tag: number): number;
  /** The next descriptor queued (close-on-exec) and its tag; fd −1 when the record came without one; null when none is queued. */
  recvFd(socket: number): { fd: number; tag: number } | null;
  setCloexec(fd: number): void;
}

/** The package root: build/Release holds the addons and the sandbox launcher. */
export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

function load<T>(name: string): T {
  const file = path.join(PACKAGE_DIR, 'build', 'Release', `${name}.node`);
  try {
    return require(file) as T;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`faasflow native module not built (${file}): ${why}. Run \`npm rebuild faasflow\` or \`npx node-gyp rebuild\` in ${PACKAGE_DIR}.`, { cause: err });
  }
}

export const sys: NativeSys = load('faasflow_sys');
export const fdPass: NativeFdPass = load('faasflow_fdpass');
