// Reads the V8 CPU profiles (cpu-prof.ts) the server processes wrote and says where their time
// went: by function (self time) and by area (Node's HTTP stack, streams, timers, faasflow's shm
// and runtime code, GC). Open the .cpuprofile files in Chrome DevTools or speedscope for flame graphs.
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Cost {
  name: string;
  /** Milliseconds of CPU and its share of the process's busy (non-idle) time. */
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  pid: number;
  role: string;
  /** Milliseconds sampled in total and spent not idle. */
  totalMs: number;
  busyMs: number;
  self: Cost[];
  inclusive: Cost[];
  areas: Cost[];
}

const ROLES: [RegExp, string][] = [
  [/\/runtime\/gateway\//, 'gateway'],
  [/\/runtime\/container\//, 'container'],
  [/\/runtime\/supervisor\//, 'supervisor'],
  [/\/bench\/servers\/hop\.js/, 'hop (floor / copy)'],
  [/\/commands\//, 'cli'],
];

export function area(f: CallFrame): string {
  const u = f.url;
  if (!u) {
    if (f.functionName === '(garbage collector)') return 'GC';
    if (f.functionName === '(program)') return 'V8/native (unattributed)';
    if (f.functionName === '(idle)') return 'idle';
    return 'native bindings';
  }
  if (/^node:(_http_|internal\/http|http$)/.test(u)) return 'node http';
  if (/^node:(net|stream|internal\/(stream_base_commons|streams\/|net))/.test(u)) return 'node net/streams';
  if (/^node:(timers|internal\/timers)/.test(u)) return 'node timers';
  if (/^node:internal\/process\/task_queues/.test(u)) return 'node nextTick/microtasks';
  if (/^node:(events|internal\/event_target|internal\/abort_controller)/.test(u)) return 'node events';
  if (u.startsWith('node:')) return 'node other';
  if (u.includes('/node_modules/')) return 'dependencies';
  const m = /\/dist\/(shm|runtime\/[a-z]+|runtime|observe|bench)\//.exec(u);
  if (m) return `faasflow ${m[1]}`;
  return 'handler / other';
}

const label = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : '(native)'}`;

function top(map: Map<string, number>, busy: number, n: number): Cost[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 }));
}

export function summarizeProfile(file: string, n = 15): ProfileSummary {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const selfUs = new Map<number, number>();
  prof.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const a = area(node.callFrame);
    if (a === 'idle') {
      idle += us;
      continue;
    }
    areas.set(a, (areas.get(a) ?? 0) + us);
    self.set(label(node.callFrame), (self.get(label(node.callFrame)) ?? 0) + us);
    // Inclusive: every distinct function on the stack, once even under recursion.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (!f || !f.url) continue;
      const key = label(f);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const urls = prof.nodes.map((x) => x.callFrame.url).join('\n');
  const role = ROLES.find(([re]) => re.test(urls))?.[1] ?? 'unknown';
  const pid = Number(/cpu-(\d+)\.cpuprofile$/.exec(file)?.[1] ?? 0);
  return { file, pid, role, totalMs: total / 1000, busyMs: busy / 1000, self: top(self, busy, n), inclusive: top(inclusive, busy, n), areas: top(areas, busy, 20) };
}

export function summarizeProfiles(dir: string): ProfileSummary[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summarizeProfile(path.join(dir, f)))
    .sort((a, b) => b.busyMs - a.busyMs);
}
