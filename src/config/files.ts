// Where a config is: the file names looked for, the package's own root (its examples, its types),
// and the error that names a config file. Kept apart from loading, which needs esbuild and zod:
// a command that only looks for the file stays cheap to start.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaasflowError } from '../common/errors.js';

export const CONFIG_FILES = ['faasflow.config.ts', 'faasflow.config.mts', 'faasflow.config.js', 'faasflow.config.mjs'];
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export class ConfigError extends FaasflowError {
  readonly file: string;
  constructor(file: string, message: string) {
    super('CONFIG', message);
    this.file = file;
  }
}

/** `--config` (which must exist), else the first of CONFIG_FILES in `cwd`, else none. */
export function findConfigFile(cwd: string, file?: string): string | undefined {
  if (file) {
    const abs = path.resolve(cwd, file);
    if (!fs.existsSync(abs)) throw new ConfigError(abs, `config file ${abs} does not exist: check the --config path`);
    return abs;
  }
  return CONFIG_FILES.map((f) => path.join(cwd, f)).find((f) => fs.existsSync(f));
}
