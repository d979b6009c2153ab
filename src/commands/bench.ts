import { Command, Flags } from '@oclif/core';
import { resolveOptions } from '../bench/options.js';
import { Interrupted, runBenchmark } from '../bench/run.js';
import type { BenchResult } from '../bench/types.js';
import { printResult, progressView } from '../bench/view.js';
import { runAsyncBench, type AsyncBenchResult } from '../bench/async/run.js';
import { saveAsync } from '../bench/async/report.js';

const seconds = Flags.custom<number>({
  async parse(input) {
    const n = Number(input);
    if (!Number.isFinite(n)) throw new Error(`expected seconds, e.g. 5 or 0.5, got "${input}"`);
    return n;
  },
});

/** How to run this again: `npm run bench -- …` when started through package.json, else the CLI. */
function invokedAs(argv: string[]): string {
  const viaNpm = /[\\/]bench[\\/]main\.js$/.test(process.argv[1] ?? '');
  return [viaNpm ? 'npm run bench' : 'faasflow bench', ...(viaNpm && argv.length ? ['--'] : []), ...argv].join(' ');
}

export default class Bench extends Command {
  static override summary = 'Measure faasflow against a bare HTTP server and a copying gateway → proxy → container chain, with wrk.';

  static override description = `Starts the setups on 127.0.0.1 — floor (one Node HTTP server; also a Node cluster of as many
workers as faasflow runs gateways, when that is more than one), copy (three Node processes
forwarding the whole body over HTTP/Unix sockets) and faasflow (\`faasflow up\` with a temp config) —
and drives each with wrk (Debian's package: apt-get install wrk) at every body size with 1 and 32
connections, the setups taking turns cell by cell; then offers every setup the same fixed rate with
an open-loop client compiled from src/bench/rate/ffrate.c (needs cc). Prints p50/p99/p99.9/max
latency, req/s, the CPU time the setup's processes spent per request, the gateway's GC share, a
model of 8 and 16 cores and the targets; writes bench-results/<date>.json and rewrites the results
block of BENCHMARKS.md.`;

  static override examples = ['<%= config.bin %> bench --quick', '<%= config.bin %> bench --sizes 1k,1m --duration 3 --rounds 3'];

  static override enableJsonFlag = true;

  static override flags = {
    quick: Flags.boolean({ description: 'Smoke run in under a minute: 1 KiB and 1 MiB, 1.5 s cells, one round; leaves BENCHMARKS.md alone.' }),
    sizes: Flags.string({ description: 'Comma-separated body sizes (default 1k,10k,100k,1m,16m).' }),
    connections: Flags.string({ description: 'Comma-separated connection counts (default 1,32).' }),
    duration: seconds({ description: 'Seconds each cell is measured (default 5; 1.5 with --quick).' }),
    warmup: seconds({ description: 'Seconds of discarded load before each cell (default 1; 0.3 with --quick).' }),
    prime: seconds({ description: 'Seconds of 1 KiB × 32 load on each setup before the first cell, so V8 has optimised every hot path (default 5; 1 with --quick).' }),
    rounds: Flags.integer({ description: 'Times every cell is repeated (default 2; 1 with --quick).', min: 1, max: 20 }),
    setups: Flags.string({ description: 'Comma-separated setups: floor,copy,faasflow (the default; with cluster when faasflow runs more than one gateway), plus faasflow-nospin (faasflow with spinMicros: 0), faasflow-nodeparser (faasflow with gateway.parser: node), faasflow-noaccesslog (faasflow with gateway.accessLog: false) and baseline (with --baseline) on request.' }),
    out: Flags.string({ description: 'Directory for the JSON result.', default: 'bench-results' }),
    profile: Flags.string({ description: 'Write V8 CPU profiles (.cpuprofile) of every server process to this directory and summarise them.' }),
    cpus: Flags.string({ description: "Pin faasflow's gateway and containers to these CPUs (config `cpus`), e.g. 1." }),
    'spin-micros': Flags.integer({ description: "faasflow's config `spinMicros`: how long gateway and containers poll for an answer before sleeping (0 = never; default: the product's).", min: 0, max: 10_000 }),
    baseline: Flags.string({ description: 'A built checkout of another faasflow version (e.g. the previous release) to run as the baseline setup in the same run.' }),
    'fixed-rate': Flags.boolean({ description: 'After the wrk cells, offer every setup the same fixed rate (open loop, latency from when each request was due).', default: true, allowNo: true }),
    'async-only': Flags.boolean({ description: 'Run only the async part: 202s of POST /async-function/1 against synchronous calls, 1 KiB (with --baseline, that checkout too); writes its own block of BENCHMARKS.md.' }),
    async: Flags.boolean({ description: 'After the main cells, run the async part (not with --quick).', default: true, allowNo: true }),
    markdown: Flags.string({ description: "File whose results block is rewritten (default BENCHMARKS.md, none with --quick); 'none' to skip." }),
  };

  async run(): Promise<BenchResult | AsyncBenchResult> {
    const { flags } = await this.parse(Bench);
    let opts;
    try {
      opts = resolveOptions({
        ...flags,
        outDir: flags.out,
        profileDir: flags.profile,
        spinMicros: flags['spin-micros'],
        fixedRate: flags['fixed-rate'],
        markdown: flags.markdown === 'none' ? '' : flags.markdown,
        command: invokedAs(this.argv),
      });
    } catch (err) {
      this.error((err as Error).message, { exit: 2 });
    }
    const log = (line: string): void => this.log(line);
    const asyncPart = async () => saveAsync(opts, await runAsyncBench(opts, log), log);
    if (flags['async-only']) return asyncPart();
    let out;
    try {
      out = await runBenchmark(opts, progressView(log));
    } catch (err) {
      if (err instanceof Interrupted) this.exit(err.signal === 'SIGINT' ? 130 : 143);
      throw err;
    }
    const { result, file } = out;
    printResult(result, log);
    this.log(`\nwrote ${file}${opts.markdown ? ` and the results block of ${opts.markdown}` : ''}`);
    if (flags.async && !opts.quick) await asyncPart();
    return result;
  }
}
