/** Every failure of the shared-memory layer, with an errno-style `code` a caller can switch on. */
export type ShmErrorCode =
  | 'EEXIST' | 'ENOENT' | 'EACCES' | 'EPERM' | 'ENOSPC' | 'EINVAL' | 'ENOMEM' | 'EMFILE' | 'ENFILE'
  | 'ENAMETOOLONG' | 'EFBIG' | 'EIO'
  | 'EBADMAGIC' | 'EVERSION' | 'ETRUNCATED' | 'ESTALE' | 'EDOUBLEFREE' | 'ERANGE' | 'ETOOBIG' | 'EBADFRAME';

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
  return err instanceof ShmError && (code === undefined || err.code === code);
}
