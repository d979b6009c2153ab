import * as Flags from '@oclif/core/flags';
import { FaasflowError } from '../common/errors.js';
import { parseDuration } from '../common/units.js';
import { FaasflowCommand } from '../control/command.js';
import { removeStaleSegments } from '../control/instance.js';
import { purgeRuntimeDir, type PurgeReport } from '../control/purge.js';
import { describeStop, stopInstance, type StopReport } from '../control/stop.js';

export type DownResult = StopReport & { purged?: PurgeReport };

export default class Down extends FaasflowCommand {
  static override summary = 'Stop an instance: drain, stop children in reverse order (TERM, then KILL after --timeout), remove its segment and control files.';
  static override examples = ['<%= config.bin %> down', '<%= config.bin %> down --clean-shm', '<%= config.bin %> down --purge', '<%= config.bin %> down --instance demo --timeout 30s'];
  static override flags = {
    'clean-shm': Flags.boolean({ description: 'also unlink every stale faasflow segment in /dev/shm whose creator is dead' }),
    purge: Flags.boolean({ description: "also remove what the stopped instance keeps in its runtime directory (logs, bundles, deployments, state file) and the directory once empty" }),
    timeout: Flags.string({ char: 't', description: 'grace per process before SIGKILL (e.g. 10s, 500ms)', default: '10s' }),
  };

  async run(): Promise<DownResult> {
    const { flags } = await this.parse(Down);
    const timeoutMs = parseDuration(flags.timeout);
    if (timeoutMs === undefined) throw new FaasflowError('USAGE', `--timeout ${flags.timeout} is not a duration: write e.g. 10s or 500ms`);
    const p = await this.locate(flags);
    const out = await stopInstance(p, {
      timeoutMs,
      onEvent: (e) => {
        if (!this.jsonEnabled() && e.kind === 'child' && e.state === 'stopped') this.log(`  stopped ${e.id} (pid ${e.pid})`);
      },
      warn: (m) => this.warn(m),
    });
    if (flags['clean-shm']) out.segments.push(...removeStaleSegments());
    if (!this.jsonEnabled()) this.log(describeStop(out));
    if (!flags.purge) return out;
    const purged = purgeRuntimeDir(p);
    if (!this.jsonEnabled()) this.log(purged.removed.length === 0 && !purged.dirRemoved ? `nothing kept in ${p.dir}` : `removed ${p.dir}${purged.dirRemoved ? '' : ` (${purged.removed.length} entries; other files in it were left)`}`);
    return { ...out, purged };
  }
}
