// Where the secret commands find an instance's secrets: its state directory's, which needs no
// running instance and no config (a secret is created before the `up` that needs it).
import { checkInstanceName } from '../common/paths.js';
import { ensureStateDir, stateDirFor, stateFiles } from '../common/state-dir.js';

/** The instance's store of secrets, its state directory made (0700) if it is not there yet. */
export function secretStore(instance: string): string {
  const s = stateFiles(stateDirFor(checkInstanceName(instance)));
  ensureStateDir(s);
  return s.secrets;
}
