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

export function isFaasflowError(err: unknown, code?: ErrorCode): err is FaasflowError {
  return err instanceof FaasflowError && (code === undefined || err.code === code);
}
