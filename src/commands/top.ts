import path from 'node:path';
import * as Flags from '@oclif/core/flags';
import { FaasflowCommand } from '../control/command.js';
import { InstanceFollower } from '../observe/follow.js';
import { ConfigReader } from '../observe/runtime.js';
import { Observer, type Snapshot } from '../observe/snapshot.js';
import { snapshotText } from '../observe/top/text.js';

export default class Top extends FaasflowCommand {
  static override summary = 'Live dashboard of a running instance: throughput, latency, pool, /dev/shm, processes, memory, errors, logs.';
  static override description =
    'Maps the instance segment read-only and reads /proc; asks no faasflow process anything, so it works while the instance is busy or stuck and waits while the instance restarts. Keys: q quits, tab / shift-tab move focus, arrows scroll the focused panel. `--once` prints one snapshot (`--json` for scripts; fields in the README).';
  static override examples = ['<%= config.bin %> top', '<%= config.bin %> top --instance demo --interval 500', '<%= config.bin %> top --once --json | jq .functions'];
  static override flags = {
    once: Flags.boolean({ description: 'print one snapshot and exit (rates and CPU % over --interval)' }),
    interval: Flags.integer({ description: 'refresh period in ms', default: 1000, min: 200, max: 60000 }),
    'shm-warn': Flags.custom<number>({
      description: 'warn when /dev/shm is fuller than this percentage, e.g. 80 or 0.5 (default: the config, else 80)',
      parse: async (input) => {
        const p = Number(input);
        if (input.trim() === '' || !(p > 0 && p <= 100)) throw new Error(`--shm-warn takes a percentage above 0 and at most 100, e.g. 80 or 0.5; got "${input}"`);
        return p;
      },
    })(),
    'runtime-dir': Flags.string({ description: 'instance runtime directory, for log lines and function names (default: where `faasflow up` put it)' }),
    'sample-every': Flags.integer({ description: 'a private-memory trend sample per process every N ms; /proc smaps_rollup (PSS, shared, private) every 6 × N, up to 8 times less often for a process over 96 MiB resident (--once reads it for each of its two snapshots)', default: 5000, min: 0 }),
  };

  async run(): Promise<Snapshot | void> {
    const { flags } = await this.parse(Top);
    const runtimeDir = flags['runtime-dir'] ? path.resolve(flags['runtime-dir']) : (await this.locate(flags)).dir;
    if (flags.once || this.jsonEnabled()) {
      const s = await once(flags.instance, runtimeDir, flags['shm-warn'] ?? null, flags.interval);
      if (!this.jsonEnabled()) this.log(snapshotText(s));
      if (s.status !== 'running') process.exitCode = 3;
      return s;
    }
    if (!process.stdout.isTTY) this.error('faasflow top needs a terminal; use `faasflow top --once` (or --once --json) in scripts', { exit: 2 });
    // The dashboard (blessed, blessed-contrib) is loaded only for the dashboard: --once prints text.
    const { runTop } = await import('../observe/top/run.js');
    await runTop({ instance: flags.instance, intervalMs: flags.interval, runtimeDir, shmWarnPercent: flags['shm-warn'] ?? null, fullSampleMs: flags['sample-every'] });
  }
}

/** Two snapshots `intervalMs` apart, so rates and CPU % cover a real interval. */
async function once(instance: string, runtimeDir: string, warn: number | null, intervalMs: number): Promise<Snapshot> {
  const config = new ConfigReader(runtimeDir);
  const observer = new Observer({ functionNames: config.functionNames(), flows: config.flows(), shmWarnPercent: warn ?? config.shmWarnPercent() ?? 80 });
  const follower = new InstanceFollower(instance);
  try {
    observer.supervisorChildren = config.children();
    const first = follower.current();
    if (!first.view) return observer.snapshot(null, instance, first.reason);
    observer.snapshot(first.view, instance);
    await new Promise((r) => setTimeout(r, intervalMs));
    observer.functionNames = config.functionNames();
    observer.flows = config.flows();
    observer.supervisorChildren = config.children();
    const second = follower.current();
    return observer.snapshot(second.view, instance, second.reason);
  } finally {
    follower.close();
  }
}
