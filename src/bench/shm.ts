// `npm run bench:shm`: the shared-memory core on its own. alloc+free pairs in one process and in
// two processes contending for the same pool, and a 1 MiB body copied into a packet against the
// same copy between two heap buffers. Prints a table and rewrites the "Shared-memory core" block
// of BENCHMARKS.md. Flags: --rounds N (default 9), --no-write (print only), --quick.
// The same file is the contending process: `shm.js --contender` (forked, talks over IPC).
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Segment, isExhausted, type Descriptor, type PacketPool } from '../shm/index.js';
import { describeMachine } from './machine.js';
import { markdownTable, writeBlock } from './markdown.js';
import { median } from './summary.js';

const BEGIN = '<!-- bench:shm:begin — written by `npm run bench:shm`; edit outside the markers -->';
const END = '<!-- bench:shm:end -->';
const HEADING = '## Shared-memory core';
const MiB = 1 << 20;
/** A body length that lands in the smallest default class, as most request bodies do. */
const SMALL = 1000;

interface Go {
  type: 'go';
  segment: string;
  control: { index: number; generation: number };
  iterations: number;
}
interface ContenderResult {
  type: 'result';
  rounds: Round[];
}

function must(r: ReturnType<PacketPool['alloc']>): Descriptor {
  if (isExhausted(r)) throw new Error(`bench: pool ${r.reason} for ${r.length} bytes`);
  return r;
}

/**
 * Time per operation, as wall time and as this process's CPU time. On a shared 2-vCPU machine the
 * wall time also counts the slices in which other processes ran; the CPU time is what the
 * operation itself cost. Both are reported.
 */
interface Round {
  wall: number;
  cpu: number;
}

function timed(n: number, unit: number, body: () => void): Round {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  body();
  const wall = Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  return { wall: wall / n / unit, cpu: ((c.user + c.system) * 1000) / n / unit };
}

/** ns per alloc+free pair over `n` pairs. */
function allocFreeRound(pool: PacketPool, n: number): Round {
  const pid = process.pid;
  return timed(n, 1, () => {
    for (let i = 0; i < n; i++) pool.free(must(pool.alloc(SMALL, pid)));
  });
}

/** µs per copy of `src` into `dst`, over `n` copies. */
function copyRound(src: Buffer, dst: Uint8Array, n: number): Round {
  return timed(n, 1000, () => {
    for (let i = 0; i < n; i++) src.copy(dst);
  });
}

/** The second process: same loop on the same pool until the parent raises the control byte. */
function contender(): void {
  process.once('message', (m: Go) => {
    const seg = Segment.open(m.segment, true);
    const flag = seg.pool.view(seg.pool.describe(m.control.index, m.control.generation), 1);
    const rounds: Round[] = [];
    allocFreeRound(seg.pool, m.iterations); // warm-up, while the parent warms up too
    while (flag[0] === 0) rounds.push(allocFreeRound(seg.pool, m.iterations));
    seg.close();
    process.send?.({ type: 'result', rounds } satisfies ContenderResult, () => process.disconnect());
  });
  process.send?.({ type: 'ready' });
}

interface Results {
  iterations: number;
  copies: number;
  single: Round[];
  contended: Round[];
  contender: Round[];
  heap: Round[];
  shm: Round[];
}

async function measure(seg: Segment, rounds: number, quick: boolean): Promise<Results> {
  const pool = seg.pool;
  const iterations = quick ? 200_000 : 1_000_000;
  allocFreeRound(pool, iterations); // warm-up: let the JIT settle before anything counts
  const single: Round[] = [];
  for (let r = 0; r < rounds; r++) single.push(allocFreeRound(pool, iterations));

  // Contended: a forked process runs the same loop on the same pool while we measure ours.
  const control = must(pool.alloc(1));
  const flag = pool.view(control, 1);
  flag[0] = 0;
  const child = fork(fileURLToPath(import.meta.url), ['--contender'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const contended: Round[] = [];
  let contenderRounds: Round[];
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`contending process exited (${code}) before it was ready`)));
    });
    const result = new Promise<ContenderResult>((resolve) => child.on('message', (m: ContenderResult) => m.type === 'result' && resolve(m)));
    child.send({ type: 'go', segment: seg.name, control: { index: control.index, generation: control.generation }, iterations } satisfies Go);
    allocFreeRound(pool, iterations);
    for (let r = 0; r < rounds; r++) contended.push(allocFreeRound(pool, iterations));
    flag[0] = 1;
    // The contender's last round may have run partly alone: drop it.
    contenderRounds = (await result).rounds.slice(0, -1);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    pool.free(control);
  }

  // 1 MiB copies: heap → heap and heap → packet, interleaved round by round so drift in the
  // machine's load hits both alike. Destination pages are touched first (a reused packet is warm).
  const body = randomBytes(MiB);
  const heapDst = Buffer.alloc(MiB);
  const packet = must(pool.alloc(MiB));
  const shmDst = pool.view(packet, MiB);
  // Many short interleaved rounds, compared pairwise: a burst of load from elsewhere then hits one
  // pair, not a whole side.
  const copies = quick ? 100 : 300;
  copyRound(body, heapDst, copies);
  copyRound(body, shmDst, copies);
  const heap: Round[] = [];
  const shm: Round[] = [];
  for (let r = 0; r < rounds * 3; r++) {
    if (r % 2) {
      shm.push(copyRound(body, shmDst, copies));
      heap.push(copyRound(body, heapDst, copies));
    } else {
      heap.push(copyRound(body, heapDst, copies));
      shm.push(copyRound(body, shmDst, copies));
    }
  }
  if (!shmDst.every((b, i) => b === body[i])) throw new Error('bench: the packet does not hold the body after the copy');
  pool.free(packet);
  return { iterations, copies, single, contended, contender: contenderRounds, heap, shm };
}

const COLUMNS = ['measurement', 'median, wall', 'median, CPU time', 'wall range', 'note'];

function rows(r: Results): string[][] {
  const wall = (xs: Round[]) => median(xs.map((x) => x.wall));
  const cpu = (xs: Round[]) => median(xs.map((x) => x.cpu));
  const range = (xs: Round[], unit: string, digits: number) => `${Math.min(...xs.map((x) => x.wall)).toFixed(digits)}–${Math.max(...xs.map((x) => x.wall)).toFixed(digits)} ${unit}`;
  const ns = (xs: Round[]) => [`${wall(xs).toFixed(0)} ns`, `${cpu(xs).toFixed(0)} ns`, range(xs, 'ns', 0)];
  const us = (xs: Round[]) => [`${wall(xs).toFixed(1)} µs`, `${cpu(xs).toFixed(1)} µs`, range(xs, 'µs', 1)];
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const gbps = (xs: Round[]) => `${(MiB / wall(xs) / 1e3).toFixed(1)} GB/s`;
  const pairs = (xs: Round[]) => 1e3 / wall(xs);
  const copyWall = median(r.heap.map((h, i) => h.wall / r.shm[i].wall));
  const copyCpu = median(r.heap.map((h, i) => h.cpu / r.shm[i].cpu));
  return [
    ['alloc+free pair, one process', ...ns(r.single), `≤ 200 ns: ${met(cpu(r.single) <= 200)} in CPU time, ${met(wall(r.single) <= 200)} in wall time`],
    ['alloc+free pair, two processes contending (this one)', ...ns(r.contended), `${pairs(r.contended).toFixed(1)} M pairs/s`],
    r.contender.length
      ? ['alloc+free pair, two processes contending (the other)', ...ns(r.contender), `both: ${(pairs(r.contended) + pairs(r.contender)).toFixed(1)} M pairs/s`]
      : ['alloc+free pair, two processes contending (the other)', '—', '—', '—', 'finished no round while this one ran'],
    ['copy 1 MiB heap → heap (Buffer.copy)', ...us(r.heap), gbps(r.heap)],
    ['copy 1 MiB heap → packet (Buffer.copy)', ...us(r.shm), gbps(r.shm)],
    ['packet ÷ heap copy speed', copyWall.toFixed(2), copyCpu.toFixed(2), '', `≥ 0.9: ${met(copyWall >= 0.9)} in wall time, ${met(copyCpu >= 0.9)} in CPU time`],
  ];
}

function renderBlock(r: Results, rounds: number, command: string): string {
  const m = describeMachine();
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return [
    BEGIN,
    '',
    `Measured ${date} on ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.os}; load average before: ${m.loadBefore.join(' ')}.`,
    `Command: \`${command}\`. Medians of ${rounds} rounds after a warm-up round (alloc+free: ${r.iterations} pairs per round of a ${SMALL} B packet; copy: 3× as many rounds of ${r.copies} copies, heap and packet rounds interleaved, the speed ratio is the median of the per-pair ratios); wall range is min–max across rounds. Wall time also counts the time slices other processes took on this shared machine; CPU time (process.cpuUsage) leaves those out.`,
    '',
    markdownTable(COLUMNS, rows(r)),
    '',
    END,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string) => args.includes(name);
  const value = (name: string, dflt: number) => {
    const i = args.indexOf(name);
    const n = i >= 0 ? Number(args[i + 1]) : dflt;
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    return n;
  };
  const quick = flag('--quick');
  const rounds = value('--rounds', quick ? 3 : 9);
  const name = `/faasflow-bench-shm-${process.pid}`;
  const seg = Segment.create({ name, budget: 64 * MiB });
  const cleanup = () => {
    seg.close();
    if (Segment.exists(name)) Segment.unlink(name);
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let r: Results;
  try {
    r = await measure(seg, rounds, quick);
  } finally {
    cleanup();
  }
  console.log(markdownTable(COLUMNS, rows(r)));
  if (!flag('--no-write')) {
    const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'BENCHMARKS.md');
    writeBlock(file, HEADING, BEGIN, END, renderBlock(r, rounds, `npm run bench:shm${args.length ? ` -- ${args.join(' ')}` : ''}`));
    console.log(`\nwrote the "${HEADING.slice(3)}" section of ${file}`);
  }
}

if (process.argv.includes('--contender')) contender();
else
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
