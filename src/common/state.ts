// The state file: what `ps`, `down` and the next `up` know about an instance even when its
// supervisor is gone. Written atomically (temp file + rename) so a reader never sees half of it.
import fs from 'node:fs';
import type { InstanceStatus } from './protocol.js';

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export const readState = (file: string) => readJson<InstanceStatus>(file);
