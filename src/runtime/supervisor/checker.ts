// The warm type checker `faasflow deploy` asks before it bundles (control request "check"): a
// worker thread (checker-worker.ts) that keeps the TypeScript compiler and every file it parsed
// between deploys, warmed with the instance's handlers once the instance runs. The CLI alone pays
// seconds to load the compiler and parse the libraries for every changed handler; the warm worker
// checks the one changed file.
//
// The worker is the supervisor's guest: its heap is capped (resourceLimits), each check is given a
// bounded time, and a worker that runs out of memory, throws or overruns is terminated and started
// again on the next check. None of that reaches the supervisor's own work: a check that cannot be
// answered here answers "unavailable" and the CLI makes the check itself, as it does when the
// instance runs an older faasflow.
import { Worker } from 'node:worker_threads';
import { ENV } from '../../common/env.js';

export interface CheckerRequest {
  id: number;
  /** Absolute handler sources. */
  files: string[];
  /** The CLI's directory: problems name files relative to it, as the CLI's own check does. */
  cwd: string;
}

/** A pass (and every other file it read, for the CLI's record), the problems found, or why there is no answer. */
export type CheckResult = { ok: true; deps: string[] } | { ok: false; message: string } | { unavailable: string };
export type CheckerReply = CheckResult & { id: number };

/** The worker's old-generation heap: the compiler, lib.es2023 + lib.dom, @types/node and the handlers fit in ~150 MiB. */
export const CHECKER_HEAP_MB = 384;
/** One check (a cold one loads the compiler and parses the libraries: seconds on a busy machine). */
export const CHECK_TIMEOUT_MS = 20_000;
/** Checks waiting at once; past this the CLI checks for itself. */
const MAX_PENDING = 8;

interface Pending {
  resolve: (r: CheckResult) => void;
  timer: NodeJS.Timeout;
}

export interface CheckerLimits {
  heapMb: number;
  timeoutMs: number;
}

/** The limits, or what FAASFLOW_CHECKER_HEAP_MB and FAASFLOW_CHECKER_TIMEOUT_MS (positive integers) say instead. */
export function checkerLimits(env: NodeJS.ProcessEnv = process.env): CheckerLimits {
  const n = (v: string | undefined, fallback: number) => (v !== undefined && /^[1-9][0-9]{0,6}$/.test(v) ? Number(v) : fallback);
  return { heapMb: n(env[ENV.checkerHeapMb], CHECKER_HEAP_MB), timeoutMs: n(env[ENV.checkerTimeoutMs], CHECK_TIMEOUT_MS) };
}

export class HandlerChecker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private readonly heapMb: number;
  private readonly timeoutMs: number;

  /** `log`: the supervisor's log. */
  constructor(private readonly log: (line: string) => void, limits = checkerLimits()) {
    this.heapMb = limits.heapMb;
    this.timeoutMs = limits.timeoutMs;
  }

  /** Starts the worker and has it check `files` (TypeScript sources), so the first deploy finds it warm. */
  warm(files: string[]): void {
    const sources = files.filter((f) => /\.[cm]?tsx?$/.test(f));
    if (sources.length === 0 || this.closed) return;
    void this.check(sources, '/').then((r) => {
      if ('unavailable' in r) this.log(`type checker: warming up failed (${r.unavailable}); deploys check in the CLI until it is restarted`);
      // Said once it holds the compiler and the handlers' programs: what the supervisor's memory now includes.
      else this.log(`type checker: warm (${sources.length} handler(s) checked); deploys are checked here`);
    });
  }

  /** Checks `files` (absolute) as the CLI's check does. Never rejects. */
  check(files: string[], cwd: string): Promise<CheckResult> {
    if (this.closed) return Promise.resolve({ unavailable: 'the instance is stopping' });
    if (this.pending.size >= MAX_PENDING) return Promise.resolve({ unavailable: `${MAX_PENDING} checks are waiting already` });
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<CheckResult>((resolve) => {
      const timer = setTimeout(() => this.fail(worker, `no answer within ${this.timeoutMs} ms: the checker was restarted`), this.timeoutMs);
      this.pending.set(id, { resolve, timer });
      worker.postMessage({ id, files, cwd } satisfies CheckerRequest);
    });
  }

  /** Stops the worker; checks still waiting answer "unavailable". */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    if (w) this.fail(w, 'the instance is stopping');
    await w?.terminate().catch(() => undefined);
  }

  private start(): Worker {
    const worker = new Worker(new URL('./checker-worker.js', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: this.heapMb, maxYoungGenerationSizeMb: 16 },
      stdout: true,
      stderr: true,
    });
    // The supervisor must be able to exit with the worker busy; what it prints is not the log's.
    worker.unref();
    worker.stdout.resume();
    worker.stderr.resume();
    worker.on('message', (r: CheckerReply) => this.answer(r));
    worker.on('error', (err: Error & { code?: string }) => {
      const why = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `it ran out of memory (heap limit ${this.heapMb} MiB)` : `it failed: ${err.message}`;
      this.fail(worker, why);
    });
    worker.on('exit', (code) => this.fail(worker, `it exited (code ${code})`));
    this.worker = worker;
    return worker;
  }

  private answer(r: CheckerReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    const { id: _id, ...result } = r;
    p.resolve(result);
  }

  /** Ends `worker` (once) and answers every waiting check "unavailable"; the next check starts a new one. */
  private fail(worker: Worker, why: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    void worker.terminate().catch(() => undefined);
    if (!this.closed) this.log(`type checker: ${why}; deploys waiting on it check in the CLI, the next one starts it again`);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.resolve({ unavailable: `the instance's type checker stopped: ${why}` });
    }
  }
}
