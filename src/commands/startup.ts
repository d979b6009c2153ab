import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as Flags from '@oclif/core/flags';
import { loadConfig } from '../config/load.js';
import { FaasflowCommand } from '../control/command.js';
import { FaasflowError } from '../common/errors.js';
import { checkInstanceName } from '../common/paths.js';
import { renderUnit, unitName } from '../export/systemd.js';

export interface StartupResult {
  unit: string;
  /** Where the unit file is (or was, with --remove); null with --print. */
  path: string | null;
  action: 'printed' | 'enabled' | 'removed';
  /** Whether systemd runs on this machine: without it the enable link is made by hand, for the next boot. */
  systemd: boolean;
  text?: string;
}

/** bin/run.js of this installation: what the unit executes. */
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'run.js');

export default class Startup extends FaasflowCommand {
  static override summary = 'Start this instance at boot: write and enable a systemd unit that runs `faasflow up --foreground` on this config.';
  static override description =
    'A system unit (/etc/systemd/system, needs root) or, with --user, a user unit (~/.config/systemd/user; for a user unit to start at boot rather than at login: loginctl enable-linger). Restart=on-failure, and a stop timeout that covers the drain, the longest function or flow and the containers\' stop. Run it again after changing the config; --remove undoes it.';
  static override examples = ['sudo <%= config.bin %> startup', '<%= config.bin %> startup --user', '<%= config.bin %> startup --print > faasflow.service', 'sudo <%= config.bin %> startup --remove'];
  static override flags = {
    user: Flags.boolean({ description: 'a user unit (systemctl --user) instead of a system one' }),
    print: Flags.boolean({ description: 'print the unit instead of writing and enabling it', exclusive: ['remove'] }),
    remove: Flags.boolean({ description: 'disable and remove the unit', exclusive: ['print'] }),
  };

  async run(): Promise<StartupResult> {
    const { flags } = await this.parse(Startup);
    const instance = checkInstanceName(flags.instance);
    const unit = unitName(instance);
    const systemd = fs.existsSync('/run/systemd/system');
    const dir = flags.user ? path.join(process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'systemd', 'user') : '/etc/systemd/system';
    const file = path.join(dir, unit);
    const wants = path.join(dir, flags.user ? 'default.target.wants' : 'multi-user.target.wants', unit);
    const say = (m: string) => !this.jsonEnabled() && this.log(m);
    if (!flags.print && !flags.user && process.getuid?.() !== 0) throw new FaasflowError('USAGE', `writing ${dir} needs root: run \`sudo faasflow startup\`, or \`faasflow startup --user\` for a unit of your own`);
    if (flags.remove) {
      if (systemd) systemctl(flags.user, ['disable', unit]);
      fs.rmSync(wants, { force: true });
      const existed = fs.existsSync(file);
      fs.rmSync(file, { force: true });
      if (systemd) systemctl(flags.user, ['daemon-reload']);
      say(existed ? `removed ${file}; it no longer starts at boot (a running instance keeps running: \`faasflow down\` stops it)` : `no unit ${file} to remove`);
      return { unit, path: file, action: 'removed', systemd };
    }
    const cfg = await loadConfig({ cwd: process.cwd(), file: flags.config, instance });
    if (!cfg.file) throw new FaasflowError('CONFIG', 'no faasflow.config.ts here: a unit runs a config file; write one (or pass --config FILE) and run `faasflow startup` again');
    const text = renderUnit(cfg, { instance, config: path.resolve(cfg.file), node: process.execPath, bin: BIN, user: flags.user });
    if (flags.print) {
      if (!this.jsonEnabled()) process.stdout.write(text);
      return { unit, path: null, action: 'printed', systemd, text };
    }
    fs.mkdirSync(path.dirname(wants), { recursive: true });
    fs.writeFileSync(file, text, { mode: 0o644 });
    if (systemd) {
      systemctl(flags.user, ['daemon-reload']);
      systemctl(flags.user, ['enable', unit]);
    } else {
      // What `systemctl enable` does, for a machine where systemd does not run now (an image
      // being prepared, a container): the link its next boot reads.
      fs.rmSync(wants, { force: true });
      fs.symlinkSync(file, wants);
    }
    say(`wrote ${file} and enabled it: instance "${instance}" starts at boot from ${cfg.file}`);
    say(systemd ? `start it now with \`systemctl${flags.user ? ' --user' : ''} start ${unit}\`` : 'systemd is not running on this machine now: the unit takes effect at its next boot');
    return { unit, path: file, action: 'enabled', systemd, text };
  }
}

function systemctl(user: boolean, args: string[]): void {
  try {
    execFileSync('systemctl', [...(user ? ['--user'] : []), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new FaasflowError('START_FAILED', `systemctl ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
  }
}
