// What every faasflow command shares: --instance, --config, --json, finding the instance's runtime
// directory, and turning known errors into one short line and a non-zero exit.
import { Command } from '@oclif/core/command';
import * as Errors from '@oclif/core/errors';
import * as Flags from '@oclif/core/flags';
import { findConfigFile } from '../config/files.js';
import { isShmError } from '../shm/errors.js';
import { ENV } from '../common/env.js';
import { isFaasflowError } from '../common/errors.js';
import { checkInstanceName, instancePaths, runtimeDirFor, type InstancePaths } from '../common/paths.js';
import { lastLocation, startedFrom } from './location.js';

/**
 * The first line of a config error that says what is wrong: a validation error starts with a
 * header naming the file ("x is invalid:") and lists the problems; a syntax error starts with its
 * file:line:col reason, followed by the source line and a caret.
 */
export function firstReason(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length > 1 && lines[0].endsWith(':')) return `${lines[1]}${lines.length > 2 ? ` (and ${lines.length - 2} more)` : ''}`;
  return lines[0] ?? 'no reason given';
}

export abstract class FaasflowCommand extends Command {
  static override enableJsonFlag = true;
  static override baseFlags = {
    instance: Flags.string({ char: 'i', description: 'instance name (parallel instances each have their own segment, port and runtime directory)', default: 'default', env: ENV.instance }),
    config: Flags.string({ char: 'c', description: 'config file (default: faasflow.config.ts in the current directory)' }),
  };

  /**
   * The instance's runtime directory: where `faasflow up` last put it (when --config names a file,
   * only if `up` ran from that file); else where its config (runtimeDir) puts it, which takes
   * evaluating the config, so it is only done when needed. A broken config must not stop `down` or
   * `ps`: then the default is used.
   */
  protected async locate(flags: { instance: string; config?: string }): Promise<InstancePaths> {
    const instance = checkInstanceName(flags.instance);
    if (!process.env[ENV.runtimeDir]) {
      const last = lastLocation(instance);
      if (last && !flags.config) return instancePaths(instance, last);
      let file: string | undefined;
      try {
        file = findConfigFile(process.cwd(), flags.config);
        if (last && file && startedFrom(last) === file) return instancePaths(instance, last);
        if (file) {
          const { loadConfig } = await import('../config/load.js');
          const cfg = await loadConfig({ cwd: process.cwd(), file, instance });
          return instancePaths(instance, cfg.runtimeDir);
        }
      } catch (err) {
        this.warn(`ignoring ${file ?? 'the config'} (${firstReason((err as Error).message)}); looking for the instance in the default runtime directory`);
      }
    }
    return instancePaths(instance, runtimeDirFor(instance));
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (isFaasflowError(err) || isShmError(err) || err.name === 'HandlerError') {
      return super.catch(Object.assign(new Errors.CLIError(err.message, { exit: 1 }), { code: (err as { code?: string }).code ?? 'HANDLER' }));
    }
    return super.catch(err);
  }
}
