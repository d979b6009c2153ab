// Errors the CLI maps to one short message and a non-zero exit: what went wrong and what to do.
export type ErrorCode =
  | 'CONFIG' | 'NOT_RUNNING' | 'ALREADY_RUNNING' | 'STALE' | 'START_FAILED' | 'DEPLOY_FAILED'
  | 'HANDLER' | 'CONTROL' | 'TIMEOUT' | 'INVOKE' | 'USAGE';

export class FaasflowError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'FaasflowError';
    this.code = code;
  }
}

/**
 * By its name as well as its class: the most used commands are bundled (scripts/bundle-commands.js),
 * each with its own copy of this class, and an error from a module they load later is the other copy's.
 */
export function isFaasflowError(err: unknown, code?: ErrorCode): err is FaasflowError {
  const ours = err instanceof FaasflowError || (err instanceof Error && err.name === 'FaasflowError' && typeof (err as { code?: unknown }).code === 'string');
  return ours && (code === undefined || (err as FaasflowError).code === code);
}
