// npm run bench:cli — how fast the CLI answers, on this machine: `node -e 0` as the floor every
// command pays (run once before every timed command, so both see the same load), `--version`, the
// read-only commands against a running instance of three small functions, `up` to healthy,
// `deploy` of a one-line change, and the CPU `faasflow top` uses in a 160×48 tmux pane on the
// example config under light load; each beside issue 21's target. Medians of --runs repetitions
// (min–max beside them). Speed lives here, never in a test. Writes its section of BENCHMARKS.md
// between markers unless --markdown none. Flags: --runs N (10), --top-seconds S (20), --markdown FILE, --json;
// --top-baseline DIR also measures the `top` of another built faasflow tree (its bin/run.js) on the
// same instance, taking turns with this one (--top-rounds N: 2 with a baseline, else 1); --only top measures only
// `top` and writes no section.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './faasflow.js';
import { describeMachine } from './machine.js';
import { markdownTable, writeBlock } from './markdown.js';
import { median } from './summary.js';
import { forgetLocation } from '../control/location.js';
import { stateDirFor } from '../common/state-dir.js';
import { packageRoot } from './process.js';
import { exampleConfig, topCpuRounds, type TopBuild } from './cli-top.js';

const BEGIN = '<!-- bench:cli:begin — written by `npm run bench:cli`; edit outside the markers -->';
const END = '<!-- bench:cli:end -->';
const HEADING = '## The CLI';

const USAGE = `usage: npm run bench:cli -- [--runs N] [--top-seconds S] [--top-baseline DIR [--top-rounds N]] [--only top] [--markdown FILE|none] [--json]
  --runs N          repetitions of each command (10); medians with min–max
  --top-seconds S   how long each round of \`top\` is measured (20)
  --top-baseline D  also measure the \`top\` of another built faasflow tree, taking turns (--top-rounds, 2)
  --only top        measure only \`top\`; writes no section of BENCHMARKS.md
  --markdown FILE   where the section goes (BENCHMARKS.md; none: print only)`;

function parseFlags() {
  try {
    return parseArgs({
      options: {
        runs: { type: 'string' }, 'top-seconds': { type: 'string' }, 'top-rounds': { type: 'string' }, 'top-baseline': { type: 'string' }, only: { type: 'string' }, markdown: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const values = parseFlags();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const runs = Math.max(1, Number(values.runs ?? 10));
const topSeconds = Math.max(2, Number(values['top-seconds'] ?? 20));
if (values.only !== undefined && values.only !== 'top') throw new Error(`--only takes "top" (measure only \`faasflow top\`); got "${values.only}"`);
const onlyTop = values.only === 'top';
const topBaseline = values['top-baseline'] === undefined ? undefined : path.resolve(values['top-baseline']);
const topRounds = Math.max(1, Number(values['top-rounds'] ?? (topBaseline ? 2 : 1)));
if (topBaseline && !fs.existsSync(path.join(topBaseline, 'bin', 'run.js'))) throw new Error(`--top-baseline ${topBaseline}: no bin/run.js there; give the root of a built faasflow tree`);
const root = packageRoot();
const BIN = path.join(root, 'bin', 'run.js');
// A bare `tsc` after `npm run build` writes the commands back as one module per file (each imports
// its dozen of dist/'s modules one by one): ~30 ms more for each `ps`, measured 2026-12-06. Time the
// CLI as the build leaves it, or not at all.
const unbundled = ['ps', 'logs', 'invoke', 'deploy', 'top'].filter((c) => !fs.readFileSync(path.join(root, 'dist', 'commands', `${c}.js`), 'utf8').includes('__ffRequire'));
if (unbundled.length > 0) throw new Error(`dist/commands/{${unbundled.join(',')}}.js are tsc's output, not the bundles scripts/bundle-commands.js writes: run \`npm run build\` first`);

interface Row {
  what: string;
  ms: number[];
  /** Issue 21's target, as text, and whether the median meets it (given the floor's median). */
  target?: { text: string; met: (ms: number, floor: number) => boolean };
}

const TIMES_FLOOR = (x: number) => ({ text: `≤ ${x}× node -e 0`, met: (ms: number, floor: number) => ms <= x * floor });
const TARGETS: Record<string, Row['target']> = {
  ps: TIMES_FLOOR(2.5),
  'ps --json': TIMES_FLOOR(2.5),
  'logs (last lines)': TIMES_FLOOR(2.5),
  'invoke 1': TIMES_FLOOR(2.5),
  'deploy (a one-line change)': { text: '≤ 1500 ms', met: (ms) => ms <= 1500 },
};
/** `top`'s CPU, % of one core. */
const TOP_TARGET = 1;

/** Wall time of one command, ms; throws with its output when it fails. */
function timed(file: string, args: string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(file, args, { cwd, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${[file, ...args].join(' ')}: ${err.message}\n${stdout}${stderr}`)) : resolve(performance.now() - t0))),
  );
}

const cli = (args: string[], cwd: string) => timed(process.execPath, [BIN, ...args], cwd);

const HANDLERS: Record<string, string> = {
  'echo.ts': 'export default function (input: Uint8Array): Uint8Array {\n  return input;\n}\n',
  'upper.ts': "export default function (input: Uint8Array): string {\n  return new TextDecoder().decode(input).toUpperCase();\n}\n",
  'hash.ts': "import { createHash } from 'node:crypto';\nexport default function (input: Uint8Array): string {\n  return createHash('sha256').update(input).digest('hex');\n}\n",
};

function configText(port: number, runtimeDir: string): string {
  return `import { defineConfig } from 'faasflow';
export default defineConfig({
  gateway: { host: '127.0.0.1', port: ${port} },
  runtimeDir: ${JSON.stringify(runtimeDir)},
  segment: { size: '64MiB' },
  functions: [
    { id: 1, name: 'echo', handler: './echo.ts' },
    { id: 2, name: 'upper', handler: './upper.ts' },
    { id: 3, name: 'hash', handler: './hash.ts' },
  ],
});
`;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-cli-'));
  const instance = `bench-cli-${process.pid}`;
  // As a user runs them: from the project's directory, naming the instance; the config is the
  // directory's faasflow.config.ts (read-only commands find the instance without reading it).
  const at = ['--instance', instance];
  // Another instance for the example config: the first one's deploys persist under its name.
  const atExample = ['--instance', `${instance}-example`];
  let up: string[] | undefined;
  const cleanup = async () => {
    if (up) await cli(['down', '--clean-shm', ...up], dir).catch((err: Error) => console.error(`warning: down ${up?.join(' ')} failed (${err.message}); \`faasflow ps\` shows what is left`));
    up = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
    // The instances' names are this run's own (its pid): their state directories go with them.
    for (const name of [instance, `${instance}-example`]) fs.rmSync(stateDirFor(name), { recursive: true, force: true });
    forgetLocation(instance, dir);
    forgetLocation(`${instance}-example`, dir);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));
  const machine = describeMachine();
  const rows: Row[] = [];
  const floor: number[] = [];
  const node0 = () => timed(process.execPath, ['-e', '0'], dir);
  const measure = async (what: string, n: number, run: () => Promise<number>) => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      floor.push(await node0());
      ms.push(await run());
    }
    rows.push({ what, ms, target: TARGETS[what] });
    console.log(`${what.padEnd(34)} median ${median(ms).toFixed(0).padStart(5)} ms  (${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)})`);
  };
  let top: TopBuild[] | undefined;
  try {
    for (const [name, text] of Object.entries(HANDLERS)) fs.writeFileSync(path.join(dir, name), text);
    if (!onlyTop) {
      const port = await freePort();
      fs.writeFileSync(path.join(dir, 'faasflow.config.ts'), configText(port, path.join(dir, 'run')));
      await measure('node -e 0', runs, node0);
      await measure('faasflow --version', runs, () => cli(['--version'], dir));
      await measure('up (3 functions, to healthy)', Math.min(runs, 3), async () => {
        const ms = await cli(['up', ...at], dir);
        up = at;
        await cli(['down', ...at], dir);
        up = undefined;
        return ms;
      });
      await cli(['up', ...at], dir);
      up = at;
      await measure('ps', runs, () => cli(['ps', ...at], dir));
      await measure('ps --json', runs, () => cli(['ps', '--json', ...at], dir));
      await measure('logs (last lines)', runs, () => cli(['logs', ...at], dir));
      await measure('invoke 1', runs, () => cli(['invoke', '1', '--data', 'hello', ...at], dir));
      await measure('shm ls', runs, () => cli(['shm', 'ls'], dir));
      await measure('top --once --json', runs, () => cli(['top', '--once', '--json', ...at], dir));
      // The instance's type checker warms up after `up`: the first deploy waits for that, as a
      // user's first deploy right after `up` would.
      let n = 0;
      await measure('deploy (a one-line change)', Math.min(runs, 5), () => {
        fs.writeFileSync(path.join(dir, 'echo.ts'), `// change ${n++}\n${HANDLERS['echo.ts']}`);
        return cli(['deploy', './echo.ts', '--id', '1', ...at], dir);
      });
      await cli(['down', ...at], dir);
      up = undefined;
    }
    // `top` watches the example config, as issue 21 measured it.
    const example = path.join(dir, 'example');
    fs.mkdirSync(example);
    const examplePort = await freePort();
    fs.writeFileSync(path.join(example, 'faasflow.config.ts'), exampleConfig(root, examplePort, path.join(dir, 'run')));
    await cli(['up', ...atExample], example);
    up = atExample;
    const builds: TopBuild[] = [{ label: 'this build', command: [process.execPath, BIN, 'top', ...atExample], percents: [] }];
    if (topBaseline) builds.push({ label: `baseline ${topBaseline}`, command: [process.execPath, path.join(topBaseline, 'bin', 'run.js'), 'top', ...atExample], percents: [] });
    top = await topCpuRounds(builds, example, examplePort, topSeconds, topRounds);
    if (!top) console.log('top: tmux is not installed, not measured');
    else for (const b of top) console.log(`top in tmux 160×48, example config, light load, ${b.label}: ${b.percents.map((p) => p.toFixed(2)).join(', ')} % of one core over ${topSeconds} s each`);
  } finally {
    await cleanup();
  }
  if (onlyTop) {
    if (values.json) console.log(JSON.stringify({ machine, topSeconds, top }, null, 2));
    return;
  }
  const base = median(floor);
  const verdict = (r: Row) => (r.target ? `${r.target.text}: ${r.target.met(median(r.ms), base) ? 'met' : '**missed**'}` : '');
  const table = markdownTable(
    ['command', 'median', 'min–max', '÷ node -e 0', 'issue 21 target'],
    rows.map((r) => [r.what, `${median(r.ms).toFixed(0)} ms`, `${Math.min(...r.ms).toFixed(0)}–${Math.max(...r.ms).toFixed(0)} ms`, `${(median(r.ms) / base).toFixed(1)}×`, verdict(r)]),
  );
  const topPercent = top ? median(top[0].percents) : undefined;
  const baseline = top?.[1] ? `; the baseline build (${topBaseline}), taking turns with it on the same instance: ${top[1].percents.map((p) => p.toFixed(2)).join(', ')} % against ${top[0].percents.map((p) => p.toFixed(2)).join(', ')} %` : '';
  const topLine = topPercent === undefined ? 'not measured (no tmux)' : `${topPercent.toFixed(2)} % of one core over ${topSeconds} s${top![0].percents.length > 1 ? ` (median of ${top![0].percents.length})` : ''} (target ≤ ${TOP_TARGET} %: ${topPercent <= TOP_TARGET ? 'met' : '**missed**'})${baseline}`;
  if (values.json) console.log(JSON.stringify({ machine, runs, floorMedian: base, rows: rows.map(({ what, ms }) => ({ what, ms })), top }, null, 2));
  const file = values.markdown ?? path.join(root, 'BENCHMARKS.md');
  if (file === 'none') return;
  const block = `${BEGIN}\n\nMeasured ${new Date().toISOString()} on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}; load average before: ${machine.loadBefore.join(' ')}.\nCommand: \`npm run bench:cli${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`: wall time of each command from spawn to exit, ${runs} runs (up 3, deploy 5), against an instance of three functions; \`node -e 0\` ran once before every timed run (÷ is against the median of all ${floor.length}: ${base.toFixed(0)} ms).\n\n${table}\n\n\`faasflow top\` in a 160×48 tmux pane at its 1 s refresh, watching the example config (faasflow.config.ts, 11 functions) with one request every 100 ms: ${topLine}.\n\n${END}`;
  writeBlock(file, HEADING, BEGIN, END, block);
  console.log(`wrote the "${HEADING.slice(3)}" section of ${file}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});

