// Defaults and the parsing of human-written sizes ("1k", "16MiB"), shared by `faasflow bench`
// and `npm run bench`.
import fs from 'node:fs';
import path from 'node:path';
import { defaultWorkers } from '../config/load.js';
import { SETUP_NAMES, type BenchOptions, type SetupName } from './types.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** 5 MiB: a large body that is not a power of two (an 8 MiB packet), like a photo. */
export const FULL_SIZES = [KiB, 10 * KiB, 100 * KiB, MiB, 5 * MiB, 16 * MiB];
/** --quick keeps the sizes the targets name (1 KiB, 1 MiB, 5 MiB) and drops the rest. */
export const QUICK_SIZES = [KiB, MiB, 5 * MiB];
export const DEFAULT_CONNECTIONS = [1, 32];

/**
 * The floor is what a user would run instead on these cores: one Node process, and a Node cluster
 * with as many workers as faasflow runs gateways (its default config) when that is more than one.
 */
export function defaultSetups(): SetupName[] {
  return ['floor', ...(defaultWorkers() > 1 ? (['cluster'] as const) : []), 'copy', 'faasflow'];
}

export const FULL = { duration: 5, warmup: 1, rounds: 2, prime: 5 };
/** 12 cells of 1.5 s plus start-up and priming: under a minute on 2 busy cores. */
export const QUICK = { duration: 1.5, warmup: 0.3, rounds: 1, prime: 1 };

export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib)?\s*$/i.exec(text);
  if (!m) throw new Error(`cannot read "${text}" as a size: write e.g. 1k, 100KiB, 16m`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const bytes = Math.round(Number(m[1]) * (unit.startsWith('m') ? MiB : unit.startsWith('k') ? KiB : 1));
  if (bytes < 1) throw new Error(`size "${text}" must be at least 1 byte`);
  if (bytes > 256 * MiB) throw new Error(`size "${text}" is over the 256 MiB the harness allows`);
  return bytes;
}

export const parseSizes = (text: string): number[] => [...new Set(text.split(',').filter((s) => s.trim()).map(parseSize))].sort((a, b) => a - b);

export function parseConnections(text: string): number[] {
  const out = text.split(',').map((s) => Number(s.trim()));
  for (const c of out) if (!Number.isInteger(c) || c < 1 || c > 1024) throw new Error(`connections must be integers 1..1024, got "${text}"`);
  return [...new Set(out)].sort((a, b) => a - b);
}

export function parseSetups(text: string): SetupName[] {
  const out = text.split(',').map((s) => s.trim());
  for (const s of out) if (!(SETUP_NAMES as readonly string[]).includes(s)) throw new Error(`unknown setup "${s}": choose from ${SETUP_NAMES.join(', ')}`);
  // Keep the canonical order so cells alternate floor, copy, faasflow.
  return SETUP_NAMES.filter((s) => out.includes(s));
}

/** "1 KiB", "16 MiB", "1.5 KiB", "512 B". */
export function sizeLabel(n: number): string {
  const [div, unit] = n >= MiB ? [MiB, 'MiB'] : n >= KiB ? [KiB, 'KiB'] : [1, 'B'];
  return `${Number((n / div).toFixed(1))} ${unit}`;
}

export function parseCpus(text: string): number[] {
  const cpus = text.split(',').map((s) => Number(s.trim()));
  if (!cpus.length || cpus.some((c) => !Number.isInteger(c) || c < 0)) throw new Error(`--cpus takes CPU numbers like 1 or 0,1, got ${text}`);
  return cpus;
}

export interface OptionInput {
  quick?: boolean;
  sizes?: string;
  connections?: string;
  duration?: number;
  warmup?: number;
  rounds?: number;
  prime?: number;
  setups?: string;
  outDir?: string;
  markdown?: string;
  profileDir?: string;
  cpus?: string;
  spinMicros?: number;
  command?: string;
  fixedRate?: boolean;
  baseline?: string;
}

export function resolveOptions(input: OptionInput): BenchOptions {
  const quick = input.quick ?? false;
  const base = quick ? QUICK : FULL;
  const duration = input.duration ?? base.duration;
  const warmup = input.warmup ?? base.warmup;
  const rounds = input.rounds ?? base.rounds;
  const prime = input.prime ?? base.prime;
  if (!(duration > 0 && duration <= 600)) throw new Error(`--duration must be in (0, 600] seconds, got ${duration}`);
  if (!(warmup >= 0 && warmup <= 60)) throw new Error(`--warmup must be in [0, 60] seconds, got ${warmup}`);
  if (!(prime >= 0 && prime <= 120)) throw new Error(`--prime must be in [0, 120] seconds, got ${prime}`);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error(`--rounds must be an integer 1..20, got ${rounds}`);
  if (input.baseline && !fs.existsSync(path.join(input.baseline, 'dist', 'commands'))) throw new Error(`--baseline ${input.baseline}: not a built faasflow checkout (no dist/commands; run npm ci there)`);
  if (input.setups?.includes('baseline') && !input.baseline) throw new Error('the baseline setup needs --baseline DIR: a built checkout of the faasflow version to compare with');
  return {
    sizes: input.sizes ? parseSizes(input.sizes) : quick ? QUICK_SIZES : FULL_SIZES,
    connections: input.connections ? parseConnections(input.connections) : DEFAULT_CONNECTIONS,
    duration,
    warmup,
    rounds,
    prime,
    setups: input.setups ? parseSetups(input.setups) : [...defaultSetups(), ...(input.baseline ? (['baseline'] as const) : [])],
    quick,
    outDir: input.outDir ?? 'bench-results',
    // A quick run is a smoke run: it must not overwrite the table a full run produced.
    markdown: input.markdown ?? (quick ? '' : 'BENCHMARKS.md'),
    profileDir: input.profileDir ? path.resolve(input.profileDir) : '',
    cpus: input.cpus ? parseCpus(input.cpus) : [],
    spinMicros: input.spinMicros ?? null,
    command: input.command ?? 'npm run bench',
    fixedRate: input.fixedRate ?? true,
    baseline: input.baseline ? path.resolve(input.baseline) : '',
  };
}
