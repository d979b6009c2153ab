// What faasflow.config.ts imports: `export default defineConfig({ functions: [...] })`. An identity
// function whose only job is to give the editor the config's types.
import type { UserConfig, UserFunction } from './schema.js';

export type { UserConfig, UserFunction };

export function defineConfig(config: UserConfig): UserConfig {
  return config;
}
