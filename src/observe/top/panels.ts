// What the text panels of `faasflow top` show, from a snapshot and the panel's width: the
// function and process tables' columns, the pool bars, the segment lines. No widget here.
import blessed from 'blessed';
import { fmtBytes, fmtBytesShort, fmtCount, fmtDuration, fmtPct, fmtRate, fmtTrend, fmtUs } from '../format.js';
import type { FlowSnapshot, FunctionSnapshot, ProcessSnapshot, Snapshot } from '../snapshot.js';
import { clip, visibleLength, type Column } from './widgets.js';

/** A row of the latency table: a function, a flow, or one step of a flow. */
interface LatencyRow {
  label: string;
  rps: number | null;
  p50?: number;
  p99?: number;
  errors: number;
  total: number;
  p99all: number;
  queue?: number;
  handler?: number;
  reply?: number;
  /** ready/desired container processes (functions only). */
  replicas?: string;
}

/**
 * The latency table: each function that has served requests (name in its chart colour, an SGR
 * code), then each flow and under it its steps, then the idle functions; rates and latencies of
 * the last interval first.
 */
export function latencyColumns(fns: FunctionSnapshot[], ansiOf: (id: number) => number, flows: FlowSnapshot[] = []): Column[] {
  // Functions that have served requests, then the flows and their steps, then idle functions.
  const served = (f: FunctionSnapshot) => f.requests > 0 || f.inflight > 0;
  const fnRow = (f: FunctionSnapshot): LatencyRow => ({
    label: `\x1b[${ansiOf(f.id)}m${(f.name ? `${f.id} ${f.name}` : `fn ${f.id}`).slice(0, 14)}\x1b[39m`,
    rps: f.rps, p50: f.recentLatencyUs?.total.p50, p99: f.recentLatencyUs?.total.p99, errors: f.errors, total: f.requests, p99all: f.latencyUs.total.p99,
    queue: f.recentLatencyUs?.queue.p99, handler: f.recentLatencyUs?.handler.p99, reply: f.recentLatencyUs?.reply.p99, replicas: `${f.replicas}/${f.replicasDesired}`,
  });
  const rows = fns.filter(served).map(fnRow);
  for (const fl of flows) {
    rows.push({ label: `flow ${fl.name}`.slice(0, 14), rps: fl.rps, p50: fl.recentLatencyUs?.p50, p99: fl.recentLatencyUs?.p99, errors: fl.errors, total: fl.requests, p99all: fl.latencyUs.p99 });
    for (const st of fl.steps) {
      rows.push({ label: ` ${st.parallel ? '‖' : '└'}${st.index} ${st.name}`.slice(0, 14), rps: st.rps, p50: st.recentLatencyUs?.p50, p99: st.recentLatencyUs?.p99, errors: st.errors, total: st.requests, p99all: st.latencyUs.p99 });
    }
  }
  rows.push(...fns.filter((f) => !served(f)).map(fnRow));
  const col = (header: string, cell: (r: LatencyRow) => string, required = true): Column => ({ header, cells: rows.map(cell), required });
  return [
    { header: 'function', short: 'fn', cells: rows.map((r) => r.label), required: true, shrink: 6 },
    col('req/s', (r) => fmtRate(r.rps)),
    col('p50', (r) => fmtUs(r.p50)),
    col('p99', (r) => fmtUs(r.p99)),
    { ...col('errors', (r) => fmtCount(r.errors)), short: 'err' },
    col('total', (r) => fmtCount(r.total)),
    { ...col('replicas', (r) => r.replicas ?? '', false), short: 'repl' },
    col('p99 all', (r) => fmtUs(r.p99all), false),
    col('queue p99', (r) => fmtUs(r.queue), false),
    col('handler p99', (r) => fmtUs(r.handler), false),
    col('reply p99', (r) => fmtUs(r.reply), false),
  ];
}

/** Rows the latency table has for `snap`: functions, flows and their steps. */
export function latencyRows(snap: Snapshot): number {
  return snap.functions.length + snap.flows.reduce((n, f) => n + 1 + f.steps.length, 0);
}

/**
 * The packet memory panel: one line per domain, the fullest first (the one that is short is the
 * one to see): name, bar, bytes held of its budget, %, and its waits and refusals for memory;
 * then the packets the fullest domain holds, by size class. The bar, then the counts, give way first.
 */
export function poolLines(snap: Snapshot, inner: number): string {
  const domains = [...snap.domains].sort((a, b) => b.memory.usedPercent - a.memory.usedPercent || a.index - b.index);
  const name = domains.map((d) => d.name);
  const use = domains.map((d) => `${fmtBytesShort(d.memory.held)}/${fmtBytesShort(d.memory.budget)}`);
  const counts = domains.map((d) => (d.memory.waits || d.memory.refusals ? `waits ${fmtCount(d.memory.waits)} refused ${fmtCount(d.memory.refusals)}` : ''));
  const w = (a: string[]) => Math.max(0, ...a.map((x) => x.length));
  const base = w(name) + 1 + w(use) + 1 + 5;
  const withCounts = base + (w(counts) ? 1 + w(counts) : 0);
  const showCounts = withCounts + 5 <= inner || base + 5 > inner;
  const barWidth = Math.min(30, inner - (showCounts ? withCounts : base) - 1);
  const lines = domains.map((d, i) => {
    const pct = d.memory.usedPercent;
    const filled = Math.round((Math.min(100, pct) / 100) * Math.max(0, barWidth));
    const color = pct >= 90 ? 'red' : pct >= 70 ? 'yellow' : 'green';
    const bar = barWidth >= 4 ? ` {${color}-fg}${'█'.repeat(filled)}{/${color}-fg}${'░'.repeat(barWidth - filled)}` : '';
    return `${name[i].padEnd(w(name))}${bar} ${use[i].padStart(w(use))} ${fmtPct(pct).padStart(5)}${showCounts && counts[i] ? ` ${counts[i]}` : ''}`;
  });
  const top = domains[0];
  const held = top ? top.pool.filter((c) => c.inUse > 0) : [];
  const by = `${top?.name} holds: ${held.map((c) => `${fmtBytesShort(c.size)}×${c.inUse}`).join(' ')}`;
  if (held.length) lines.push(`{gray-fg}${by.length > inner ? `${by.slice(0, Math.max(0, inner - 1))}…` : by}{/gray-fg}`);
  return lines.join('\n') || '-';
}

/**
 * The segment panel: each line in its long form when it fits the panel, else a short one (a
 * wrapped line would push the ones below out of a small panel); most important first, since a
 * small panel cuts the end.
 */
export function segmentLines(snap: Snapshot, inner: number): string {
  const g = snap.segment;
  if (!g) return `{red-fg}${blessed.escape(snap.reason ?? 'no segment')}{/red-fg}`;
  // Other `faasflow top` / `shm` runs map the segment too; they are readers, not strangers.
  const reader = (cmd: string) => /(faasflow|bin\/run\.js)\s+(top|shm)\b/.test(cmd);
  const strangers = g.holders.filter((h) => !h.registered && !reader(h.command));
  const readers = g.holders.filter((h) => !h.registered && reader(h.command));
  const alive = g.creatorAlive ? '{green-fg}alive{/green-fg}' : '{red-fg}dead{/red-fg}';
  const warn = snap.shm.warn ? ` {red-fg}> ${snap.shm.warnPercent}%{/red-fg}` : '';
  const lines: string[][] = [
    [`{bold}${g.name}{/bold}  v${g.layoutVersion}  up ${fmtDuration(g.uptimeS)}`, `{bold}${g.name}{/bold} v${g.layoutVersion}`],
    [`creator pid ${g.creatorPid} ${alive}`, `creator ${g.creatorPid} ${alive}`],
    strangers.length ? [`{yellow-fg}not registered: ${strangers.map((h) => h.pid).join(', ')}{/yellow-fg}`] : [],
    [`mapped by ${g.holders.length} process(es)${readers.length ? ` (${readers.length} faasflow reader${readers.length > 1 ? 's' : ''})` : ''}`, `mapped by ${g.holders.length}`],
    [`domains: ${snap.domains.map((d) => `${d.name} ${d.enforcement ?? '-'}`).join(', ') || 'none'}`, `${snap.domains.length} domain(s)`],
    [`size ${fmtBytes(g.size)}, touched ${fmtBytes(g.touched)}`, `${fmtBytesShort(g.size)}, ${fmtBytesShort(g.touched)} touched`],
    [`/dev/shm ${fmtBytes(snap.shm.used)} of ${fmtBytes(snap.shm.total)} (${fmtPct(snap.shm.usedPercent)})${warn}`, `/dev/shm ${fmtPct(snap.shm.usedPercent)} of ${fmtBytesShort(snap.shm.total)}${warn}`],
    [`{gray-fg}${snap.takenAt.slice(11, 19)} UTC  q quit, tab focus{/gray-fg}`, `{gray-fg}q quit, tab focus{/gray-fg}`],
  ];
  const fit = (forms: string[]) => {
    const f = forms.find((x) => visibleLength(x) <= inner) ?? forms[forms.length - 1];
    // Not even the short form fits (a long instance name): cut it, colours and all.
    return visibleLength(f) <= inner ? f : clip(f.replace(/\{\/?[a-z-]*\}/g, ''), inner);
  };
  return lines.filter((l) => l.length).map(fit).join('\n');
}

/**
 * What tells a healthy process from a sick one is always shown: role, function, pid, state,
 * restarts, CPU, RSS, private, shm and the private-memory trend; poll, uptime, shared and PSS
 * follow as the width allows, in that order. Narrow terminals get short byte and trend formats
 * before any of the first is given up.
 */
export function processColumns(ps: ProcessSnapshot[]): Column[] {
  const fn = (p: ProcessSnapshot) => {
    if (p.role !== 'container') return '-';
    // Shorten the name, never the id or the replica.
    const room = 13 - `${p.functionId} /${p.replica}`.length;
    const name = p.function && p.function.length > room ? `${p.function.slice(0, Math.max(room - 1, 0))}…` : (p.function ?? '');
    return `${p.functionId}${name ? ` ${name}` : ''}/${p.replica}`;
  };
  const bytes = (header: string, get: (p: ProcessSnapshot) => number | undefined, required: boolean): Column => ({
    header,
    cells: ps.map((p) => (get(p) === undefined ? '-' : fmtBytes(get(p)!))),
    compact: ps.map((p) => (get(p) === undefined ? '-' : fmtBytesShort(get(p)!))),
    required,
  });
  return [
    { header: 'role', cells: ps.map((p) => p.role), required: true },
    { header: 'function', cells: ps.map(fn), required: true, shrink: 5 },
    { header: 'pid', cells: ps.map((p) => String(p.pid)), required: true },
    { header: 'state', cells: ps.map((p) => (p.alive ? p.state : 'DEAD')), required: true },
    { header: 'rst', cells: ps.map((p) => String(p.restarts)), required: true },
    { header: 'cpu', cells: ps.map((p) => fmtPct(p.cpuPercent)), required: true },
    { header: 'poll', cells: ps.map((p) => fmtPct(p.polling.percent)), required: false, priority: 1 },
    bytes('rss', (p) => p.memory?.rss, true),
    bytes('private', (p) => p.memory?.privateBytes, true),
    bytes('shm', (p) => p.memory?.shmBytes, true),
    { header: 'private trend', short: 'trend', cells: ps.map((p) => fmtTrend(p.trend)), compact: ps.map((p) => fmtTrend(p.trend, true)), required: true, shrink: 5 },
    { ...bytes('shared', (p) => p.memory?.sharedBytes, false), priority: 3 },
    { ...bytes('pss', (p) => p.memory?.pss, false), priority: 4 },
    { header: 'uptime', cells: ps.map((p) => fmtUptime(p.uptimeS)), required: false, priority: 2 },
  ];
}

/**
 * A process's uptime to the second for its first minute (a restart just happened), then to the
 * minute: a column that changed every second changed every row of the table every second, and a
 * changed row is parsed and drawn again (most of a quiet refresh's drawing).
 */
function fmtUptime(s: number): string {
  return s >= 60 && s < 3600 ? `${Math.floor(s / 60)}m` : fmtDuration(s);
}
