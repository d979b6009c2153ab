import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';
import { fmtBytes, textTable } from '../../observe/format.js';
import { listSegments, type SegmentReport } from '../../observe/segments.js';

export default class ShmLs extends Command {
  static override summary = 'List every faasflow shared-memory segment: the files in /dev/shm and every running instance\'s domain segments.';
  static override description =
    'For each segment (a runtime segment /dev/shm/faasflow-<instance>, and the domain segments faasflow-<instance>@<domain> of each running instance, sealed memfds found through their supervisor): size, bytes really held in RAM, layout version, the pid that created it and whether it still runs, the processes that map it (what lsof lists), packets in use, and whether it is stale (creator dead and nobody maps it: safe to remove with `faasflow down --clean-shm`; a domain segment never is, it goes with its instance\'s processes).';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> shm ls', '<%= config.bin %> shm ls --stale --json'];
  static override flags = {
    stale: Flags.boolean({ description: 'only stale segments' }),
  };

  async run(): Promise<SegmentReport[]> {
    const { flags } = await this.parse(ShmLs);
    const all = listSegments();
    const shown = flags.stale ? all.filter((s) => s.stale) : all;
    if (shown.length === 0) {
      this.log(flags.stale ? 'No stale faasflow segments.' : 'No faasflow segments.');
      return shown;
    }
    const rows = shown.map((s) => [
      s.name,
      fmtBytes(s.size),
      fmtBytes(s.touched),
      s.layoutVersion === null ? '?' : String(s.layoutVersion),
      s.creatorPid === null ? '?' : String(s.creatorPid),
      s.creatorPid === null ? '?' : s.creatorAlive ? 'yes' : 'no',
      s.holders.length ? s.holders.map((h) => h.pid).join(',') : '-',
      s.pool ? s.pool.map((c) => `${c.inUse}/${c.count}`).join(' ') : '-',
      s.stale ? 'STALE' : s.error ? 'unreadable' : 'in use',
    ]);
    this.log(textTable(['NAME', 'SIZE', 'TOUCHED', 'LAYOUT', 'CREATOR', 'ALIVE', 'MAPPED BY', 'PACKETS IN USE (per class)', 'STATUS'], rows, [1, 2]));
    for (const s of shown) if (s.error) this.log(`${s.name}: ${s.error}`);
    if (shown.some((s) => s.stale)) this.log('Stale segments hold RAM nobody uses: remove them with `faasflow down --clean-shm`.');
    return shown;
  }
}
