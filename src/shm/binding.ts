// Finds and loads the compiled addon; nothing else. The error class is handed to C++ here so
// native failures arrive as ShmError with a `code`.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { ShmError } from './errors.js';

export interface NativeMapping {
  size: number;
  views: ArrayBuffer[];
  handle: number;
  /** False only for a read-only attach the kernel would not map copy-on-write (PROT_READ: a store faults). */
  storesSafe: boolean;
  /** The file's inode: a segment made anew under the same name is another one. */
  ino: number;
}

export interface NativeShm {
  viewBytes: number;
  setErrorClass(cls: new (message: string, code: string) => Error): void;
  /** A new segment (O_EXCL) with this mode (default 0600) and, when given, this group; `allocate`: every page now (posix_fallocate). */
  create(name: string, size: number, mode?: number, gid?: number, allocate?: boolean): void;
  map(name: string, writable: boolean): NativeMapping;
  /** A close-on-exec memfd of `size` bytes, sealed against shrinking, growing and further seals; returns its descriptor. */
  memfdCreate(name: string, size: number): number;
  /** Maps the whole file behind `fd` (which stays open: the caller's to close); `name` is for errors. */
  mapFd(fd: number, writable: boolean, name: string): NativeMapping;
  /** The F_SEAL_* bits of the file behind `fd`, or -1 when it is no memfd. */
  seals(fd: number): number;
  /** Marks `fd` close-on-exec. */
  cloexec(fd: number): void;
  unmap(handle: number): boolean;
  unlink(name: string): void;
  stat(name: string): { size: number; touched: number; mode: number; uid: number; mtimeMs: number };
  resident(handle: number, offset: number, length: number): number;
  statfs(path: string): { total: number; free: number; available: number };
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

function load(): NativeShm {
  const file = path.join(root, 'build', 'Release', 'faasflow_shm.node');
  try {
    return require(file) as NativeShm;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`faasflow native module not built (${file}): ${why}. Run \`npm rebuild faasflow\` or \`npx node-gyp rebuild\` in ${root}.`, { cause: err });
  }
}

export const native: NativeShm = load();
native.setErrorClass(ShmError as unknown as new (message: string, code: string) => Error);
