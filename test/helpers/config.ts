// Loading a config that must be refused: the message of the ConfigError it throws.
import { ConfigError, loadConfig } from '../../src/config/load.js';

/** The ConfigError message for the config in `dir`; throws when it loads, or fails otherwise. */
export async function configError(dir: string): Promise<string> {
  try {
    await loadConfig({ cwd: dir, instance: 'x' });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
