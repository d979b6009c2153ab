// The harness: starts the setups side by side, checks them, runs the cells with the setups
// alternating inside each (size, connections) so drift hits all three alike, then stops
// everything — also on failure and on SIGINT/SIGTERM — and writes the results.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkSetup } from './check.js';
import { PROFILE_DIR_ENV } from './cpu-prof.js';
import { runLoad, stopLoad } from './driver.js';
import { runFixedRate } from './fixed-rate.js';
import { sampleOccupancy } from './occupancy.js';
import { GC_DIR_ENV, gcShare } from './gc-log.js';
import { hasWrk } from './wrk.js';
import { distFile } from './process.js';
import { startFaasflow } from './faasflow.js';
import { describeMachine } from './machine.js';
import { summarizeProfiles } from './profile.js';
import { updateMarkdown } from './markdown.js';
import { startCluster, startCopy, startFloor, type RunningSetup, type SetupStarter, type StartOptions } from './setups.js';
import { summarizeCells } from './summary.js';
import { evaluateTargets } from './targets.js';
import type { BenchEvent, BenchOptions, BenchResult, CellResult, SetupName } from './types.js';

/** A 1-minute load average above this means something else is using a core. */
const BUSY_LOAD = 0.7;

export const STARTERS: Record<SetupName, SetupStarter> = {
  floor: startFloor,
  cluster: startCluster,
  copy: startCopy,
  faasflow: startFaasflow,
  'faasflow-nospin': (o) => startFaasflow({ ...o, spinMicros: 0, instance: `bench-nospin-${process.pid}`, name: 'faasflow-nospin' }),
  'faasflow-nodeparser': (o) => startFaasflow({ ...o, parser: 'node', instance: `bench-nodeparser-${process.pid}`, name: 'faasflow-nodeparser' }),
  'faasflow-noaccesslog': (o) => startFaasflow({ ...o, accessLog: false, instance: `bench-noaccess-${process.pid}`, name: 'faasflow-noaccesslog' }),
  baseline: (o) => startFaasflow({ ...o, instance: `bench-base-${process.pid}`, name: 'baseline' }),
};

/** The run was stopped by a signal; everything it started has been stopped. */
export class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

export interface RunOutput {
  result: BenchResult;
  /** Path of the JSON result file. */
  file: string;
}

export async function runBenchmark(opts: BenchOptions, emit: (e: BenchEvent) => void = () => {}, starters = STARTERS): Promise<RunOutput> {
  const running: RunningSetup[] = [];
  // A signal only marks the run interrupted and kills the load generator; the run then unwinds
  // through the one `finally` that stops every setup, so no exit can race the cleanup.
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = signal;
    emit({ type: 'warning', message: `${signal}: stopping every setup` });
    stopLoad();
  };
  const check = (): void => {
    if (interrupted) throw new Interrupted(interrupted);
  };
  // Before anything starts: every cell is driven by wrk.
  if (!(await hasWrk())) throw new Error('wrk is not installed: apt-get install wrk (the benchmark measures with an independent client)');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const date = new Date().toISOString();
  const machine = describeMachine();
  if (machine.loadBefore[0] > BUSY_LOAD) {
    emit({ type: 'warning', message: `load average is ${machine.loadBefore[0]} on ${machine.cores} cores before the run: other work is competing, expect noisy numbers` });
  }
  const cells: CellResult[] = [];
  // When each cell ran, to match the gateways' GC log lines to it.
  const windows = new Map<CellResult, [number, number]>();
  const gcRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-gc-'));
  let fixedRates: NonNullable<BenchResult['fixedRates']> = [];
  const start: StartOptions = { ...(opts.cpus.length ? { cpus: opts.cpus } : {}), ...(opts.spinMicros !== null ? { spinMicros: opts.spinMicros } : {}) };
  if (opts.profileDir) {
    fs.mkdirSync(opts.profileDir, { recursive: true });
    // Profiles are written when each process exits, i.e. when the setups stop at the end.
    start.env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${distFile('cpu-prof.js')}`.trim(), [PROFILE_DIR_ENV]: opts.profileDir };
  }
  try {
    for (const name of opts.setups) {
      emit({ type: 'setup-start', setup: name });
      const t0 = performance.now();
      // faasflow's gateways log their GC pauses (gc-log.ts), each setup into a directory of its own.
      const gcDir = path.join(gcRoot, name);
      fs.mkdirSync(gcDir);
      const gcEnv: Record<string, string> = name.startsWith('faasflow') || name === 'baseline' ? { NODE_OPTIONS: `${start.env?.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? ''} --import=${distFile('gc-log.js')}`.trim(), [GC_DIR_ENV]: gcDir } : {};
      const setup = await starters[name]({ ...start, env: { ...start.env, ...gcEnv }, ...(name === 'baseline' ? { root: opts.baseline } : {}) });
      running.push(setup);
      check();
      await checkSetup(name, setup.url, opts.sizes);
      emit({ type: 'setup-ready', setup: name, url: setup.url, ms: performance.now() - t0 });
    }
    for (const setup of running) {
      if (opts.prime <= 0) break;
      check();
      const primed = await runLoad({ url: setup.url, size: 1024, connections: 32, duration: opts.prime, warmup: 0, pids: setup.pids() });
      emit({ type: 'setup-primed', setup: setup.name, requests: primed.latency.count, seconds: primed.seconds });
    }
    const total = opts.rounds * opts.sizes.length * opts.connections.length * running.length;
    for (let round = 0; round < opts.rounds; round++) {
      for (const size of opts.sizes) {
        for (const connections of opts.connections) {
          for (const setup of running) {
            check();
            emit({ type: 'cell-start', setup: setup.name, size, connections, round, index: cells.length, total });
            const sampler = sampleOccupancy(setup);
            const load = await runLoad({ url: setup.url, size, connections, duration: opts.duration, warmup: opts.warmup, pids: setup.pids(), ...(setup.roles ? { roles: setup.roles() } : {}) }).finally(() => sampler?.stop());
            const heldPerByte = sampler?.stop();
            const { seconds, latency, rps, non2xx, errors, timeouts, cpu } = load;
            const cell: CellResult = { setup: setup.name, size, connections, round, seconds, latency, rps, non2xx, errors, timeouts, cpu, ...(heldPerByte !== undefined ? { heldPerByte } : {}) };
            cells.push(cell);
            windows.set(cell, [load.from, load.to]);
            emit({ type: 'cell-done', cell });
          }
        }
      }
    }
    if (opts.fixedRate) {
      check();
      fixedRates = await runFixedRate(running, cells, opts, emit);
    }
  } catch (err) {
    check();
    throw err;
  } finally {
    stopLoad();
    for (const s of running.reverse()) {
      emit({ type: 'setup-stop', setup: s.name });
      await s.stop().catch((err: Error) => emit({ type: 'warning', message: `stopping ${s.name}: ${err.message}` }));
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // The setups have exited, so every gateway has flushed its GC log.
    for (const [cell, [from, to]] of windows) {
      const gc = gcShare(path.join(gcRoot, cell.setup), from, to);
      if (gc) cell.gc = gc;
    }
    fs.rmSync(gcRoot, { recursive: true, force: true });
  }
  const summary = summarizeCells(cells);
  const fixedRate = fixedRates.find((f) => f.size === 1024);
  const result: BenchResult = { date, machine, options: opts, cells, summary, targets: evaluateTargets(summary, opts.sizes), ...(fixedRate ? { fixedRate } : {}), ...(fixedRates.length ? { fixedRates } : {}) };
  if (opts.profileDir) result.profiles = summarizeProfiles(opts.profileDir);
  fs.mkdirSync(opts.outDir, { recursive: true });
  const file = path.join(opts.outDir, `${date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}${opts.quick ? '-quick' : ''}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  if (opts.markdown) updateMarkdown(opts.markdown, result);
  return { result, file };
}
