// What the token commands share: where the instance's tokens are, and whether its gateways check
// them (a token made while gateway.auth is off works once it is on, but the user should know).
import fs from 'node:fs';
import type { InstancePaths } from '../common/paths.js';

/** In the state directory, beside the deployments and secrets: it outlives a reboot. */
export function instanceTokens(p: InstancePaths): string {
  return p.tokens;
}

/** A line for the user when the instance last started with gateway.auth off; undefined otherwise. */
export function authOffNote(p: InstancePaths): string | undefined {
  try {
    const cfg = JSON.parse(fs.readFileSync(p.config, 'utf8')) as { gateway?: { auth?: boolean } };
    if (cfg.gateway?.auth) return undefined;
    return `note: instance "${p.instance}" runs with gateway.auth off, so its gateways check no tokens: set gateway: { auth: true } in its config and restart it`;
  } catch {
    return undefined;
  }
}
