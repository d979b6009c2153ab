// The async part of `npm run bench` (`--async-only` runs only it): how fast a gateway accepts
// async requests (POST /async-function/1, answered 202 once it is in the gateway's journal,
// fdatasync'd) next to a synchronous call of the same function (POST /function/1), 1 KiB bodies, in the
// same run on the same instance, cells alternating. With --baseline, the same against another
// checkout's instance (before/after). Between cells the queue is left to run what it accepted, so
// no cell starts with another's backlog.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startFaasflow } from '../faasflow.js';
import { hasWrk, killWrk, prepare, runWrk, type WrkResult } from '../wrk.js';
import { describeMachine } from '../machine.js';
import { ENV } from '../../common/env.js';
import type { BenchOptions, Machine } from '../types.js';
import type { RunningSetup } from '../setups.js';

export const ASYNC_SIZE = 1024;
export const ASYNC_CONNECTIONS = [1, 32];
/** How long a cell's backlog may take to run before the run gives up on waiting for it. */
const DRAIN_MS = 180_000;

export interface AsyncCell {
  setup: string;
  connections: number;
  /** Medians over rounds: sync = POST /function/1, async = POST /async-function/1 (202s). */
  sync: Pick<WrkResult, 'p50' | 'p99' | 'rps'>;
  async: Pick<WrkResult, 'p50' | 'p99' | 'rps'>;
  /** Answers other than 2xx (async: anything but the 202), over all rounds. */
  syncNon2xx: number;
  asyncNon2xx: number;
  errors: number;
}

export interface AsyncBenchResult {
  date: string;
  machine: Machine;
  command: string;
  warmup: number;
  prime: number;
  duration: number;
  rounds: number;
  cells: AsyncCell[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
};

/** GET /metrics and read one unlabelled sample; undefined if it is not there. */
function metric(base: string, name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(`${base}/metrics`, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
        resolve(m ? Number(m[1]) : undefined);
      });
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(10_000, () => req.destroy());
  });
}

/** Waits until the instance's queue has run everything it accepted. */
async function drain(base: string, say: (m: string) => void): Promise<void> {
  const until = Date.now() + DRAIN_MS;
  let depth = await metric(base, 'faasflow_async_queue_depth');
  while (depth !== 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    depth = await metric(base, 'faasflow_async_queue_depth');
  }
  if (depth !== 0) say(`warning: the queue at ${base} still holds ${depth ?? '?'} request(s) after ${DRAIN_MS / 1000} s; measuring on`);
}

export async function runAsyncBench(opts: BenchOptions, say: (line: string) => void): Promise<AsyncBenchResult> {
  if (!(await hasWrk())) throw new Error('wrk is not installed: apt-get install wrk');
  const machine = describeMachine();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-async-'));
  const setups: RunningSetup[] = [];
  // A signal stops the load generator; the run then unwinds through `finally`, which stops the instances.
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = sig;
    killWrk();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const check = () => {
    if (interrupted) throw new Error(`interrupted by ${interrupted}`);
  };
  try {
    const files = prepare(work, { '1k': ASYNC_SIZE });
    // 'faasflow' is the default (durability 'power': the gateway's journal fdatasync'd before each
    // 202, shared by the requests of one event-loop turn); 'faasflow process' the same build with
    // async.durability 'process' (no fdatasync); with --baseline, the other checkout both ways.
    const variants: { name: string; slug: string; root?: string; async: true | 'process' }[] = [
      { name: 'faasflow', slug: 'faasflow', async: true }, { name: 'faasflow process', slug: 'faasflow-process', async: 'process' },
      ...(opts.baseline ? [
        { name: 'baseline', slug: 'baseline', root: opts.baseline, async: true as const },
        { name: 'baseline process', slug: 'baseline-process', root: opts.baseline, async: 'process' as const },
      ] : []),
    ];
    for (const v of variants) {
      // The queue's database and the journals in a directory of the run's own, on the same disk as
      // a user's state directory would be (the fsync is the point), removed at the end.
      const stateDir = path.join(work, `state-${v.slug}`);
      say(`starting ${v.name}${v.root ? ` (${v.root})` : ''} with async: ${v.async === 'process' ? "{ durability: 'process' }" : '{}'}`);
      setups.push(await startFaasflow({ instance: `bench-async-${v.slug}-${process.pid}`, name: v.name as 'faasflow', async: v.async, env: { [ENV.stateDir]: stateDir }, ...(v.root ? { root: v.root } : {}), ...(opts.cpus.length ? { cpus: opts.cpus } : {}) }));
    }
    const urls = (s: RunningSetup) => {
      const sync = s.url;
      return { sync, async: sync.replace('/function/', '/async-function/'), base: new URL(sync).origin };
    };
    const run = async (url: string, c: number, secs: number) => {
      check();
      const r = await runWrk(url, files.script, files.body('1k'), c, secs);
      check();
      return r;
    };
    if (opts.prime > 0) {
      for (const s of setups) {
        say(`priming ${s.name}: ${opts.prime} s of each`);
        await run(urls(s).sync, 32, opts.prime);
        await run(urls(s).async, 32, opts.prime);
        await drain(urls(s).base, say);
      }
    }
    const raw = new Map<string, { sync: WrkResult[]; async: WrkResult[] }>();
    for (let round = 1; round <= opts.rounds; round++) {
      for (const c of ASYNC_CONNECTIONS) {
        for (const s of setups) {
          const u = urls(s);
          const key = `${s.name} ${c}`;
          const r = raw.get(key) ?? { sync: [], async: [] };
          raw.set(key, r);
          if (opts.warmup > 0) await run(u.sync, c, opts.warmup);
          r.sync.push(await run(u.sync, c, opts.duration));
          if (opts.warmup > 0) await run(u.async, c, opts.warmup);
          r.async.push(await run(u.async, c, opts.duration));
          const a = r.async[r.async.length - 1];
          say(`round ${round}, ${s.name}, ${c} connection(s): sync p50 ${r.sync[r.sync.length - 1].p50} µs, 202 p50 ${a.p50} µs, ${Math.round(a.rps)} accepted/s`);
          await drain(u.base, say);
        }
      }
    }
    const cells: AsyncCell[] = [];
    for (const c of ASYNC_CONNECTIONS) {
      for (const s of setups) {
        const r = raw.get(`${s.name} ${c}`)!;
        const pick = (xs: WrkResult[]) => ({ p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)), rps: median(xs.map((x) => x.rps)) });
        cells.push({
          setup: s.name, connections: c, sync: pick(r.sync), async: pick(r.async),
          syncNon2xx: r.sync.reduce((n, x) => n + x.non2xx, 0), asyncNon2xx: r.async.reduce((n, x) => n + x.non2xx, 0),
          errors: [...r.sync, ...r.async].reduce((n, x) => n + x.errors + x.timeouts, 0),
        });
      }
    }
    return { date: new Date().toISOString(), machine, command: opts.command, duration: opts.duration, warmup: opts.warmup, prime: opts.prime, rounds: opts.rounds, cells };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const s of setups.reverse()) await s.stop().catch((err: unknown) => say(`warning: stopping ${s.name}: ${(err as Error).message}`));
    fs.rmSync(work, { recursive: true, force: true });
  }
}
