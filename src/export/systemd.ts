// A systemd unit that starts an instance at boot: `faasflow up --foreground` on the config's
// absolute path, restarted on failure, with a stop timeout that covers the instance's own stop
// budget. Pure: the command (src/commands/startup.ts) decides where it goes and enables it.
import path from 'node:path';
import { FaasflowError } from '../common/errors.js';
import type { ResolvedConfig } from '../config/types.js';
import { stopBudgetMs } from './drain.js';

export interface UnitOptions {
  instance: string;
  /** The config file, absolute. */
  config: string;
  /** The Node binary and faasflow's bin/run.js, absolute (a unit has no PATH of the user's). */
  node: string;
  bin: string;
  /** A user unit (`systemctl --user`) rather than a system one. */
  user: boolean;
  /** For a system unit run by root on behalf of another account: `User=`. */
  runAs?: string;
}

/** faasflow-<instance>.service: one unit per instance. */
export function unitName(instance: string): string {
  return `faasflow-${instance}.service`;
}

/**
 * How long systemd lets a stop take before it kills: the drain delay, the longest request or flow,
 * the containers' stop, and 10 s for the supervisor's own cleanup.
 */
export function stopTimeoutSeconds(cfg: ResolvedConfig): number {
  return Math.ceil((cfg.gateway.drainDelayMs + stopBudgetMs(cfg) + 10_000) / 1000);
}

/** systemd's quoting for one word of ExecStart (spaces, quotes, backslashes, % specifiers). */
function word(s: string): string {
  if (/[\n\r]/.test(s)) throw new FaasflowError('USAGE', `a path in the unit cannot contain a line break: ${JSON.stringify(s)}`);
  const escaped = s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
  return /[\s"'\\;%$]/.test(s) ? `"${escaped}"` : escaped;
}

export function renderUnit(cfg: ResolvedConfig, o: UnitOptions): string {
  if (!path.isAbsolute(o.config) || !path.isAbsolute(o.node) || !path.isAbsolute(o.bin)) throw new FaasflowError('USAGE', 'the unit needs absolute paths for the config, node and faasflow');
  const exec = [o.node, o.bin, 'up', '--foreground', '--instance', o.instance, '--config', o.config].map(word).join(' ');
  return [
    `# Written by \`faasflow startup\` for instance "${o.instance}" from ${o.config}.`,
    '# Change the config and run `faasflow startup` again; `faasflow startup --remove` takes it away.',
    '[Unit]',
    `Description=faasflow instance ${o.instance} (${o.config.replace(/%/g, '%%')})`,
    ...(o.user ? [] : ['After=network-online.target', 'Wants=network-online.target']),
    // A crash restarts the instance (`up` recovers what a dead supervisor left: segments,
    // processes); a start that keeps failing stops after 5 tries in 2 minutes, and says so.
    'StartLimitIntervalSec=120',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    `WorkingDirectory=${word(path.dirname(o.config))}`,
    `ExecStart=${exec}`,
    ...(o.runAs ? [`User=${o.runAs}`] : []),
    // `up --foreground` passes SIGTERM to its supervisor, which drains the gateways and stops the
    // containers in order: systemd must signal only it (mixed), and SIGKILL the rest only past the
    // stop budget.
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${stopTimeoutSeconds(cfg)}`,
    'Restart=on-failure',
    'RestartSec=2',
    // Containers are processes of their own; this many descriptors covers links and clients.
    'LimitNOFILE=65536',
    '',
    '[Install]',
    `WantedBy=${o.user ? 'default.target' : 'multi-user.target'}`,
    '',
  ].join('\n');
}
