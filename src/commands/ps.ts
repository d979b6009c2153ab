import { FaasflowCommand } from '../control/command.js';
import type { ChildStatus, InstanceStatus } from '../common/protocol.js';
import { liveStatus } from '../control/status.js';
import { fmtBytes } from '../common/units.js';
import { segmentPath } from '../common/paths.js';
import { queueLine } from '../observe/queue-line.js';

export default class Ps extends FaasflowCommand {
  static override summary = "List an instance's processes: role, function, pid, state, uptime, restarts, memory (RSS, private, shared-memory), each container's security domain and sandbox.";
  static override description = 'Below the processes, each function: REPLICAS ready/desired (desired is the fixed count, or what the scaler decided for a function with `scale`) and its SCALE range. PRIVATE is resident memory only this process uses (excluding the segment): the figure a leak grows and memoryLimit applies to. SHM is the part of the segment this process has touched.';
  static override examples = ['<%= config.bin %> ps', '<%= config.bin %> ps --instance demo --json'];

  async run(): Promise<InstanceStatus> {
    const { flags } = await this.parse(Ps);
    const s = await liveStatus(await this.locate(flags));
    if (!this.jsonEnabled()) {
      this.log(`instance ${s.instance} (${s.state}) http://${s.host}:${s.port}  segment ${segmentPath(s.segment)}`);
      this.log(table(s));
      this.log(`\n${functionTable(s)}`);
      for (const sp of s.spares ?? []) this.log(`spares of domain ${sp.domain}: ${sp.warm} warm, ${sp.starting} starting (keeps ${sp.wanted})`);
      const queue = s.children.find((c) => c.role === 'queue')?.queue;
      if (queue) this.log(`\n${queueLine(queue)}`);
      const failed = s.children.filter((c) => c.state === 'failed');
      for (const c of failed) this.log(`\n${c.id} FAILED: ${c.lastExit} — see \`faasflow logs --id ${c.functionId}\``);
    }
    return s;
  }
}

function uptime(c: ChildStatus): string {
  if (c.state !== 'ready' && c.state !== 'starting' && c.state !== 'draining') return '-';
  const s = Math.max(0, Math.round((Date.now() - c.startedAt) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

function table(s: InstanceStatus): string {
  const names = new Map(s.functions.map((f) => [f.id, f.name]));
  const header = ['ROLE', 'FUNCTION', 'DEPLOY', 'PID', 'STATE', 'UPTIME', 'RESTARTS', 'RSS', 'PRIVATE', 'SHM', 'DOMAIN', 'SANDBOX'];
  const rows = s.children.map((c) => [
    c.role,
    c.spare ? '(spare)' : c.role === 'container' ? `${c.functionId} ${names.get(c.functionId) ?? ''}`.trim() : '-',
    c.role === 'container' && !c.spare ? `${c.deployment}.r${c.replica}` : '-',
    c.state === 'failed' || c.state === 'stopped' || c.state === 'crashed' ? '-' : String(c.pid),
    c.state,
    uptime(c),
    String(c.restarts),
    c.memory ? fmtBytes(c.memory.rss) : '-',
    c.memory ? fmtBytes(c.memory.privateBytes) : '-',
    c.memory ? fmtBytes(c.memory.shmBytes) : '-',
    c.domain || '-',
    c.sandbox || '-',
  ]);
  return columns([header, ...rows]);
}

/** Each function: ready / desired replicas, and its elastic range (min..max, target in flight per replica, idle window). */
function functionTable(s: InstanceStatus): string {
  const header = ['FUNCTION', 'DEPLOY', 'REPLICAS', 'SCALE'];
  const rows = s.functions.map((f) => [
    `${f.id} ${f.name}`,
    String(f.deployment),
    `${f.ready}/${f.desired}`,
    f.scale ? `${f.scale.min}..${f.scale.max}, target ${f.scale.target} in flight, idle ${f.scale.idleMs / 1000}s` : 'fixed',
  ]);
  return columns([header, ...rows]);
}

function columns(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
