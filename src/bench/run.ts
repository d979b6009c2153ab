// The harness: starts the setups side by side, checks them, runs the cells with the setups
// alternating inside each (size, connections) so drift hits all three alike, then stops
// everything — also on failure and on SIGINT/SIGTERM — and writes the results.
import fs from 'node:fs';
import path from 'node:path';
import { checkSetup } from './check.js';
import { PROFILE_DIR_ENV } from './cpu-prof.js';
import { killLoad, runLoad } from './driver.js';
import { distFile } from './process.js';
import { startFaasflow } from './faasflow.js';
import { describeMachine } from './machine.js';
import { summarizeProfiles } from './profile.js';
import { updateMarkdown } from './markdown.js';
import { startCopy, startFloor, type RunningSetup, type SetupStarter, type StartOptions } from './setups.js';
import { summarizeCells } from './summary.js';
import { evaluateTargets } from './targets.js';
import type { BenchEvent, BenchOptions, BenchResult, CellResult, SetupName } from './types.js';

/** A 1-minute load average above this means something else is using a core. */
const BUSY_LOAD = 0.7;

export const STARTERS: Record<SetupName, SetupStarter> = {
  floor: startFloor,
  copy: startCopy,
  faasflow: startFaasflow,
  'faasflow-nospin': (o) => startFaasflow({ ...o, spinMicros: 0, instance: `bench-nospin-${process.pid}`, name: 'faasflow-nospin' }),
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
    killLoad();
  };
  const check = (): void => {
    if (interrupted) throw new Interrupted(interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const date = new Date().toISOString();
  const machine = describeMachine();
  if (machine.loadBefore[0] > BUSY_LOAD) {
    emit({ type: 'warning', message: `load average is ${machine.loadBefore[0]} on ${machine.cores} cores before the run: other work is competing, expect noisy numbers` });
  }
  const cells: CellResult[] = [];
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
      const setup = await starters[name](start);
      running.push(setup);
      check();
      await checkSetup(name, setup.url, opts.sizes);
      emit({ type: 'setup-ready', setup: name, url: setup.url, ms: performance.now() - t0 });
    }
    for (const setup of running) {
      if (opts.prime <= 0) break;
      check();
      const primed = await runLoad({ url: setup.url, size: 1024, connections: 32, duration: opts.prime, warmup: 0, pids: [] });
      emit({ type: 'setup-primed', setup: setup.name, requests: primed.latency.count, seconds: primed.seconds });
    }
    const total = opts.rounds * opts.sizes.length * opts.connections.length * running.length;
    for (let round = 0; round < opts.rounds; round++) {
      for (const size of opts.sizes) {
        for (const connections of opts.connections) {
          for (const setup of running) {
            check();
            emit({ type: 'cell-start', setup: setup.name, size, connections, round, index: cells.length, total });
            const load = await runLoad({ url: setup.url, size, connections, duration: opts.duration, warmup: opts.warmup, pids: setup.pids() });
            const { seconds, latency, rps, non2xx, errors, timeouts, cpu } = load;
            const cell: CellResult = { setup: setup.name, size, connections, round, seconds, latency, rps, non2xx, errors, timeouts, cpu };
            cells.push(cell);
            emit({ type: 'cell-done', cell });
          }
        }
      }
    }
  } catch (err) {
    check();
    throw err;
  } finally {
    killLoad();
    for (const s of running.reverse()) {
      emit({ type: 'setup-stop', setup: s.name });
      await s.stop().catch((err: Error) => emit({ type: 'warning', message: `stopping ${s.name}: ${err.message}` }));
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const summary = summarizeCells(cells);
  const result: BenchResult = { date, machine, options: opts, cells, summary, targets: evaluateTargets(summary, opts.sizes) };
  if (opts.profileDir) result.profiles = summarizeProfiles(opts.profileDir);
  fs.mkdirSync(opts.outDir, { recursive: true });
  const file = path.join(opts.outDir, `${date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}${opts.quick ? '-quick' : ''}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  if (opts.markdown) updateMarkdown(opts.markdown, result);
  return { result, file };
}
