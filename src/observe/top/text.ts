// `faasflow top --once` without --json: the snapshot as plain text for a terminal or a log.
import { fmtBytes, fmtCount, fmtDuration, fmtPct, fmtRate, fmtTrend, fmtUs, textTable } from '../format.js';
import type { Snapshot } from '../snapshot.js';
import { queueLine } from '../queue-line.js';

/** The 2xx/4xx/5xx cell of the functions' and the flows' tables. */
const statusCell = (st: { '2xx': number; '4xx': number; '5xx': number }) => `${fmtCount(st['2xx'])}/${fmtCount(st['4xx'])}/${fmtCount(st['5xx'])}`;

export function snapshotText(s: Snapshot): string {
  const out: string[] = [];
  const g = s.segment;
  out.push(`faasflow instance ${s.instance}: ${s.status}${s.reason ? ` (${s.reason})` : ''}  ${s.takenAt}`);
  if (g) out.push(`segment ${g.path}: ${fmtBytes(g.size)}, ${fmtBytes(g.touched)} touched, layout v${g.layoutVersion}, creator ${g.creatorPid} ${g.creatorAlive ? 'alive' : 'dead'}, up ${fmtDuration(g.uptimeS)}, mapped by ${g.holders.length}`);
  for (const d of s.domains) out.push(`domain ${d.name}: isolation ${d.enforcement ?? '- (no container running)'}, segment ${d.segment.path} ${fmtBytes(d.segment.size)} (${fmtBytes(d.segment.touched)} touched), ${d.packetsInUse} packet(s) in use`);
  out.push(`/dev/shm: ${fmtBytes(s.shm.used)} of ${fmtBytes(s.shm.total)} used (${fmtPct(s.shm.usedPercent)})${s.shm.warn ? `  WARNING: above ${s.shm.warnPercent} %` : ''}`);
  if (s.functions.length) {
    out.push('', 'Functions (latency over the last interval; "all" since start):');
    const rows = s.functions.map((f) => [
      f.name ? `${f.id} ${f.name}` : String(f.id),
      fmtCount(f.requests),
      fmtRate(f.rps),
      statusCell(f.status),
      fmtUs(f.recentLatencyUs?.total.p50),
      fmtUs(f.recentLatencyUs?.total.p99),
      fmtUs(f.latencyUs.total.p50),
      fmtUs(f.latencyUs.total.p99),
      fmtUs(f.latencyUs.queue.p99),
      fmtUs(f.latencyUs.container.p99),
      fmtUs(f.latencyUs.handler.p99),
      fmtUs(f.latencyUs.reply.p99),
      String(f.inflight),
      `${f.replicas}/${f.replicasDesired}`,
    ]);
    out.push(textTable(['FUNCTION', 'REQS', 'REQ/S', '2xx/4xx/5xx', 'P50', 'P99', 'P50 ALL', 'P99 ALL', 'QUEUE P99', 'CONTAINER P99', 'HANDLER P99', 'REPLY P99', 'INFLIGHT', 'REPLICAS'], rows, [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
  }
  if (s.flows.length) {
    out.push('', 'Flows (each flow, then its steps; a parallel branch is marked ‖; copies = packets copied into another domain):');
    const rows = s.flows.flatMap((fl) => [
      [`flow ${fl.name}`, fmtCount(fl.requests), fmtRate(fl.rps), statusCell(fl.status), fmtUs(fl.recentLatencyUs?.p50), fmtUs(fl.recentLatencyUs?.p99), fmtUs(fl.latencyUs.p50), fmtUs(fl.latencyUs.p99), fmtCount(fl.copies), String(fl.inflight)],
      ...fl.steps.map((st) => [`  ${st.index}${st.parallel ? ' ‖' : ''} ${st.name} (${st.functionId})`, fmtCount(st.requests), fmtRate(st.rps), statusCell(st.status), fmtUs(st.recentLatencyUs?.p50), fmtUs(st.recentLatencyUs?.p99), fmtUs(st.latencyUs.p50), fmtUs(st.latencyUs.p99), '', '']),
    ]);
    out.push(textTable(['FLOW / STEP', 'REQS', 'REQ/S', '2xx/4xx/5xx', 'P50', 'P99', 'P50 ALL', 'P99 ALL', 'COPIES', 'INFLIGHT'], rows, [1, 2, 4, 5, 6, 7, 8, 9]));
  }
  if (s.domains.length) {
    out.push('', 'Packet memory per domain (held = bytes of the packets held; waits and refused: allocations that waited for memory, and that were refused for it):');
    const byUse = [...s.domains].sort((a, b) => b.memory.usedPercent - a.memory.usedPercent);
    out.push(textTable(['DOMAIN', 'BUDGET', 'HELD', 'FREE', 'USED', 'WAITS', 'REFUSED'], byUse.map((d) => [d.name, fmtBytes(d.memory.budget), fmtBytes(d.memory.held), fmtBytes(d.memory.free), fmtPct(d.memory.usedPercent), fmtCount(d.memory.waits), fmtCount(d.memory.refusals)]), [1, 2, 3, 4, 5, 6]));
    // Only the classes a domain has used (13 per domain by default).
    const rows = byUse.flatMap((d) => d.pool.filter((c) => c.highWater > 0).map((c) => [d.name, fmtBytes(c.size), String(c.inUse), String(c.count), fmtBytes(c.packetBytes), fmtBytes(c.bytesInUse), String(c.highWater), fmtBytes(c.touched)]));
    if (rows.length) out.push('', 'Packets per domain and size class (classes never used left out):', textTable(['DOMAIN', 'CLASS', 'IN USE', 'OF', 'HELD', 'PAYLOAD', 'HIGH WATER', 'RESIDENT'], rows, [1, 2, 3, 4, 5, 6, 7]));
  }
  if (s.processes.length) {
    out.push('', 'Processes (private = resident memory of the process alone, segment excluded; polling = the part of CPU spent polling for answers):');
    const rows = s.processes.map((p) => {
      const m = p.memory;
      return [p.role, p.role === 'container' ? `${p.functionId}/${p.replica}` : '-', String(p.pid), p.alive ? p.state : 'DEAD', String(p.restarts), fmtPct(p.cpuPercent), fmtPct(p.polling.percent), m ? fmtBytes(m.rss) : '-', m ? fmtBytes(m.pss) : '-', m ? fmtBytes(m.privateBytes) : '-', m ? fmtBytes(m.sharedBytes) : '-', m ? fmtBytes(m.shmBytes) : '-', fmtTrend(p.trend)];
    });
    out.push(textTable(['ROLE', 'FN', 'PID', 'STATE', 'RESTARTS', 'CPU', 'POLLING', 'RSS', 'PSS', 'PRIVATE', 'SHARED', 'SHM', 'PRIVATE TREND'], rows, [2, 4, 5, 6, 7, 8, 9, 10, 11]));
    const exits = s.processes.filter((p) => p.lastExit);
    const queue = s.processes.find((p) => p.queue)?.queue;
    if (queue) out.push('', queueLine(queue));
    if (exits.length) out.push('', 'Last exits (the supervisor’s record of why each restarted replica’s previous process ended):', ...exits.map((p) => `  ${p.role}${p.role === 'container' ? ` ${p.functionId}/${p.replica}` : ''} (pid ${p.pid}): ${p.lastExit}`));
  }
  const problems = s.events.filter((e) => e.level !== 'info');
  if (problems.length) out.push('', 'Recent errors:', ...problems.slice(-10).map((e) => `  ${e.at} ${e.text}`));
  return out.join('\n');
}
