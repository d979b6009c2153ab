import * as Args from '@oclif/core/args';
import { FaasflowCommand } from '../../control/command.js';
import { fmtBytes, fmtDuration, textTable } from '../../observe/format.js';
import { inspectSegment, normalizeSegmentName, type SegmentDetail } from '../../observe/segments.js';
import { Segment, segmentName } from '../../shm/index.js';

export default class ShmInspect extends FaasflowCommand {
  static override summary = 'Show one faasflow segment in detail: who maps it, its processes, packets per class and owner.';
  static override description =
    'NAME may be an instance name, faasflow-<instance>, /faasflow-<instance> or /dev/shm/faasflow-<instance>, or a domain segment faasflow-<instance>@<domain>; without it, the runtime segment of --instance. Lists the processes mapping the segment (the pids lsof shows for it: `lsof /dev/shm/<segment>`, or the lines naming `/memfd:<segment>` for a domain segment), the process table, pool usage per size class and which pids hold packets (packets of dead pids are reclaimable).';
  static override examples = ['<%= config.bin %> shm inspect', '<%= config.bin %> shm inspect faasflow-demo --json'];
  static override args = {
    name: Args.string({ description: 'segment or instance name' }),
  };

  async run(): Promise<SegmentDetail> {
    const { args, flags } = await this.parse(ShmInspect);
    const name = args.name ? normalizeSegmentName(args.name) : segmentName(flags.instance);
    if (!Segment.exists(name)) {
      const others = Segment.list().map((e) => e.name);
      this.error(`no segment ${name.includes('@') ? `${name} (no running instance holds it)` : `/dev/shm${name}`}${others.length ? `; faasflow segments here: ${others.join(', ')}` : ': no faasflow segments exist (is the instance running?)'}`, { exit: 1 });
    }
    const d = inspectSegment(name);
    this.log(`${d.memfd ? `${d.name} (memfd, through ${d.path})` : d.path}${d.instance ? `  (instance ${d.instance})` : ''}`);
    this.log(`  size ${fmtBytes(d.size)}${d.memfd ? ' (sealed: it can never change)' : ''}, ${fmtBytes(d.touched)} touched (held in RAM), mode ${d.mode}, uid ${d.uid}`);
    if (d.error) this.log(`  header unreadable: ${d.error}`);
    else this.log(`  layout v${d.layoutVersion}, created ${d.createdAt} by pid ${d.creatorPid} (${d.creatorAlive ? 'alive' : 'dead'})`);
    this.log(d.stale ? '  STALE: creator dead and no process maps it; `faasflow down --clean-shm` removes it' : '  in use');
    this.log('');
    this.log(`Mapped by ${d.holders.length} process(es):`);
    // A read-only mapping is a reader (`faasflow top`, `shm ls`/`inspect`, a debugger): it keeps no
    // segment in use, and not being in the process table is expected. A writer that is not
    // registered is the odd one out.
    const access = (h: SegmentDetail['holders'][number]) => (h.writes ? 'writer' : 'read-only');
    const registered = (h: SegmentDetail['holders'][number]) => (h.registered ? 'yes' : h.writes ? 'NO' : 'no (reader)');
    if (d.holders.length) this.log(indent(textTable(['PID', 'ACCESS', 'REGISTERED', 'COMMAND'], d.holders.map((h) => [String(h.pid), access(h), registered(h), h.command.slice(0, 100)]), [0])));
    if (d.holders.some((h) => !h.writes)) this.log('  read-only: a reader such as `faasflow top`; it does not keep the segment in use.');
    if (d.processes.length) {
      this.log('');
      this.log('Process table:');
      const rows = d.processes.map((p) => [String(p.slot), p.role, p.role === 'container' ? `${p.functionId}/${p.replica}` : '-', String(p.pid), p.alive ? p.state : `${p.state} (dead)`, String(p.restarts), fmtDuration(p.uptimeS), `${p.heartbeatAgeS}s`]);
      this.log(indent(textTable(['SLOT', 'ROLE', 'FN/REPLICA', 'PID', 'STATE', 'RESTARTS', 'UPTIME', 'HEARTBEAT'], rows, [0, 3, 5])));
    }
    if (d.memory) {
      const m = d.memory;
      this.log('');
      this.log(`Packet memory: ${fmtBytes(m.held)} held of a ${fmtBytes(m.budget)} budget (${fmtBytes(m.free)} free); ${m.waits} allocation(s) waited for memory, ${m.refusals} refused`);
    }
    if (d.pool?.length) {
      this.log('');
      this.log('Packets per size class:');
      const rows = d.pool.map((c) => [fmtBytes(c.size), String(c.count), String(c.inUse), fmtBytes(c.packetBytes), String(c.highWater), fmtBytes(c.bytesInUse), fmtBytes(c.touched)]);
      this.log(indent(textTable(['CLASS', 'PACKETS', 'IN USE', 'HELD', 'HIGH WATER', 'PAYLOAD', 'RESIDENT'], rows, [0, 1, 2, 3, 4, 5, 6])));
    }
    if (d.owners.length) {
      this.log('');
      this.log('Packets held by:');
      const rows = d.owners.map((o) => [String(o.pid), o.alive ? 'yes' : 'NO (reclaimable)', String(o.packets), fmtBytes(o.bytes), `${(o.oldestMs / 1000).toFixed(1)}s`]);
      this.log(indent(textTable(['PID', 'ALIVE', 'PACKETS', 'BYTES', 'OLDEST'], rows, [0, 2, 3, 4])));
    }
    return d;
  }
}

const indent = (s: string) => s.replace(/^/gm, '  ');
