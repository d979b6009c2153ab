/** Every failure of the shared-memory layer, with an errno-style `code` a caller can switch on. */
export type ShmErrorCode =
  | 'EEXIST' | 'ENOENT' | 'EACCES' | 'EPERM' | 'ENOSPC' | 'EINVAL' | 'ENOMEM' | 'EMFILE' | 'ENFILE'
  | 'ENAMETOOLONG' | 'EFBIG' | 'EIO'
  | 'EBADMAGIC' | 'EVERSION' | 'ETRUNCATED' | 'ECORRUPT' | 'ESTALE' | 'EDOUBLEFREE' | 'ERANGE' | 'ETOOBIG' | 'EBADFRAME';

export class ShmError extends Error {
  readonly code: ShmErrorCode;
  segment?: string;
  syscall?: string;
  errno?: number;

  constructor(message: string, code: ShmErrorCode, segment?: string) {
    super(message);
    this.name = 'ShmError';
    this.code = code;
    if (segment !== undefined) this.segment = segment;
  }
}

export function isShmError(err: unknown, code?: ShmErrorCode): err is ShmError {
  // By name too: a bundled command (scripts/bundle-commands.js) has its own copy of the class.
  const ours = err instanceof ShmError || (err instanceof Error && err.name === 'ShmError');
  return ours && (code === undefined || (err as ShmError).code === code);
}

/**
 * What every mutating method throws on a segment opened read-only (`Segment.open(name, false)`, as
 * `top` and `shm inspect` do): a typed error instead of a store that, on a read-only shared
 * mapping, would kill the process with SIGSEGV.
 */
export function readOnlyError(segment: string, what: string): ShmError {
  return new ShmError(`${what}: ${segment} is mapped read-only; open it with Segment.open(name, true) to change it`, 'EACCES', segment);
}
