// Supervisor process entry: `faasflow up` starts it (detached, in its own process group) with the
// resolved config in FAASFLOW_CONFIG. SIGTERM/SIGINT shut the instance down like `faasflow down`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig } from '../../config/types.js';
import { instancePaths } from '../../common/paths.js';
import { ENV } from '../../common/env.js';
import { Supervisor } from './supervisor.js';

const runtime = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const configFile = process.env[ENV.config];
if (!configFile) {
  process.stderr.write(`faasflow supervisor: ${ENV.config} is not set; start instances with \`faasflow up\`\n`);
  process.exit(2);
}
const cfg = JSON.parse(fs.readFileSync(configFile, 'utf8')) as ResolvedConfig;
const sup = new Supervisor({
  cfg,
  paths: instancePaths(cfg.instance, cfg.runtimeDir),
  tee: process.env[ENV.foreground] === '1' ? process.stdout : undefined,
  teeFormat: process.env[ENV.logFormat] === 'json' ? 'json' : 'text',
  modules: { gateway: path.join(runtime, 'gateway', 'main.js'), container: path.join(runtime, 'container', 'main.js'), queue: path.join(runtime, 'queue', 'main.js') },
});
// A foreground terminal that goes away must not kill the supervisor through EPIPE.
process.stdout.on('error', () => undefined);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void sup.shutdown(`received ${sig}`, 0));
process.on('uncaughtException', (err) => {
  process.stderr.write(`faasflow supervisor: ${err.stack ?? err.message}\n`);
  void sup.shutdown(`internal error: ${err.message}`, 1);
});
sup.run().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`faasflow supervisor: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
