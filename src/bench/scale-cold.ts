// The cold starts of `npm run bench:scale`: two functions at zero, one keeping a warm spare and one
// `spares: 0`, alternated, one request each time it is back at zero, timed end to end. A sample
// without a spare also gets a timeline read from the process table the supervisor keeps in the
// segment, polled every millisecond while the request waits: demand (the request sent) → spawn
// (the supervisor registered the replica's process) → ready (it linked to the gateways) → the
// answer. A spare's sample has no spawn: the process was there before the request.
import http from 'node:http';
import type { ProcessTable } from '../shm/index.js';

export interface ColdTimeline {
  /** ms from the request to the replica's registration (the supervisor spawned it). */
  spawn: number;
  /** ms from the request to its state `ready`. */
  ready: number;
  /** ms from the request to the answer. */
  answer: number;
}

export interface ColdSamples {
  withSpare: number[];
  withoutSpare: number[];
  timeline: ColdTimeline[];
}

export interface ColdRun {
  port: number;
  table: ProcessTable;
  samples: number;
  /** The function keeping a spare, and the one without. */
  spareId: number;
  freshId: number;
  atZero(id: number): Promise<void>;
  spareWarm(): Promise<void>;
}

function post(port: number, id: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: `/function/${id}`, method: 'POST', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end('x');
  });
}

export async function coldStarts(o: ColdRun): Promise<ColdSamples> {
  const out: ColdSamples = { withSpare: [], withoutSpare: [], timeline: [] };
  for (let i = 0; i < o.samples; i++) {
    for (const id of [o.spareId, o.freshId]) {
      await o.atZero(id);
      if (id === o.spareId) await o.spareWarm();
      let spawn = NaN;
      let ready = NaN;
      const t0 = performance.now();
      const watch = setInterval(() => {
        const e = o.table.entries().find((x) => x.role === 'container' && x.functionId === id);
        if (e && Number.isNaN(spawn)) spawn = performance.now() - t0;
        if (e?.state === 'ready' && Number.isNaN(ready)) ready = performance.now() - t0;
      }, 1);
      const code = await post(o.port, id).finally(() => clearInterval(watch));
      const answer = performance.now() - t0;
      if (code !== 200) throw new Error(`cold request to function ${id} answered ${code}`);
      if (id === o.spareId) out.withSpare.push(answer);
      else {
        out.withoutSpare.push(answer);
        out.timeline.push({ spawn, ready, answer });
      }
    }
  }
  return out;
}

export const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** The timeline's medians, one table row: NaN (a step missed between two polls) is left out. */
export function timelineRow(t: ColdTimeline[]): string {
  const med = (k: keyof ColdTimeline) => {
    const xs = t.map((x) => x[k]).filter((x) => !Number.isNaN(x));
    return xs.length ? `${pct(xs, 50).toFixed(1)} ms` : 'not seen';
  };
  return `| timeline without a spare, p50 from the request (process table polled each ms) | spawn ${med('spawn')} → ready ${med('ready')} → answer ${med('answer')} |`;
}
