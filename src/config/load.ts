// Finds, compiles, evaluates and validates faasflow.config.ts, and resolves it to the
// ResolvedConfig every process works from. The config is bundled with esbuild to a temporary .mjs
// and imported, so a syntax error is reported by esbuild with file:line:column.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Message } from 'esbuild';
import type { z } from 'zod';
import { DEFAULT_CLASSES } from '../shm/layout.js';
import { instancePaths, runtimeDirFor } from '../common/paths.js';
import { configSchema, defaultName, functionSchema, type ParsedConfig, type ParsedFunction, type UserConfig } from './schema.js';
import type { FunctionConfig, ResolvedConfig } from './types.js';
import { resolveFlows } from './flows.js';
import { resolveSchedules } from './schedules.js';
import { resolveAsync, type AsyncConfig } from './async.js';
import { ConfigError, PACKAGE_ROOT, findConfigFile } from './files.js';

export { CONFIG_FILES, ConfigError, PACKAGE_ROOT, findConfigFile } from './files.js';

const EXAMPLES_DIR = path.join(PACKAGE_ROOT, 'functions');
/** Served when no config file exists: `up` then `curl -X POST localhost:8080/function/1 -d hi`. */
const EXAMPLES = ['echo', 'uppercase', 'json-transform', 'sha256', 'resize', 'watermark', 'compress', 'text-stats', 'entropy', 'merge', 'join'];
/** The example config's domains and flows (faasflow.config.ts spells them out). */
const EXAMPLE_DOMAINS: Record<string, string> = { resize: 'images', watermark: 'images', compress: 'images', 'text-stats': 'text', entropy: 'text', merge: 'text' };
const EXAMPLE_FLOWS: UserConfig['flows'] = [
  { name: 'shout', steps: ['uppercase', 'sha256'] },
  { name: 'both', steps: [{ parallel: ['echo', 'uppercase'] }, 'join'] },
  { name: 'thumbnail', steps: ['resize', 'watermark', 'compress'], timeout: '30s' },
  { name: 'analyze', steps: [{ parallel: ['text-stats', 'entropy', 'sha256'] }, 'merge'] },
];

export interface LoadOptions {
  cwd: string;
  /** --config; otherwise the first of CONFIG_FILES in cwd. */
  file?: string;
  instance: string;
}

export async function loadConfig(o: LoadOptions): Promise<ResolvedConfig> {
  const file = findConfigFile(o.cwd, o.file);
  if (!file) return resolve(builtinConfig(), '', EXAMPLES_DIR, o.instance);
  const raw = await evaluate(file);
  // reportInput: without it zod 4 leaves `input` out of every issue, and a wrong type would read as "is required".
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new ConfigError(file, `${rel(file)} is invalid:\n${parsed.error.issues.map((i) => `  ${describeIssue(i)}`).join('\n')}`);
  return resolve(parsed.data, file, path.dirname(file), o.instance);
}

function builtinConfig(): ParsedConfig {
  const functions = EXAMPLES.map((name, i) => ({ id: i + 1, name, handler: `./${name}.ts`, ...(EXAMPLE_DOMAINS[name] ? { domain: EXAMPLE_DOMAINS[name] } : {}) })).filter((f) => fs.existsSync(path.join(EXAMPLES_DIR, f.handler)));
  return configSchema.parse({ functions, flows: EXAMPLE_FLOWS } satisfies UserConfig);
}

const rel = (file: string) => path.relative(process.cwd(), file) || file;

async function evaluate(file: string): Promise<unknown> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faasflow-config-'));
  const out = path.join(tmp, 'config.mjs');
  try {
    try {
      await build({
        entryPoints: [file],
        outfile: out,
        bundle: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        logLevel: 'silent',
        plugins: [
          {
            // The config's `import { defineConfig } from 'faasflow'` is this very package, wherever
            // the config lives (npx runs it without a local install).
            name: 'faasflow-self',
            setup(b) {
              b.onResolve({ filter: /^faasflow$/ }, () => ({ path: pathToFileURL(path.join(PACKAGE_ROOT, 'dist', 'index.js')).href, external: true }));
            },
          },
        ],
      });
    } catch (err) {
      const errors = (err as { errors?: Message[] }).errors ?? [];
      if (!errors.length) throw err;
      throw new ConfigError(file, errors.slice(0, 5).map((m) => formatMessage(file, m)).join('\n'));
    }
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(out).href)) as { default?: unknown };
    } catch (err) {
      throw new ConfigError(file, `${rel(file)}: evaluating the config threw: ${(err as Error).message}`);
    }
    if (mod.default === undefined) throw new ConfigError(file, `${rel(file)} has no default export: end it with \`export default defineConfig({ functions: [...] })\``);
    return mod.default;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function formatMessage(file: string, m: Message): string {
  const loc = m.location;
  if (!loc) return `${rel(file)}: ${m.text}`;
  return `${loc.file}:${loc.line}:${loc.column + 1}: ${m.text}\n    ${loc.lineText}\n    ${' '.repeat(loc.column)}^`;
}

function issuePath(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

function describeIssue(i: z.core.$ZodIssue): string {
  const at = issuePath(i.path) || '(top level)';
  if (i.code === 'unrecognized_keys') {
    const known = knownKeys(i.path);
    return i.keys
      .map((k) => {
        const guess = closest(k, known);
        return `${issuePath([...i.path, k])}: unknown field${guess ? `; did you mean "${guess}"?` : known.length ? `; known fields: ${known.join(', ')}` : ''}`;
      })
      .join('\n  ');
  }
  if (i.code === 'invalid_type' && i.input === undefined) return `${at}: is required`;
  // A number written in quotes: the commonest slip in a hand-edited config.
  if (i.code === 'invalid_type' && i.expected === 'number' && typeof i.input === 'string' && i.input.trim() !== '' && Number.isFinite(Number(i.input))) {
    return `${at}: expected a number, got the string ${JSON.stringify(i.input)}: write ${i.input.trim()} without quotes`;
  }
  return `${at}: ${i.message}`;
}

/** Field names allowed at a path, for "did you mean" hints. */
function knownKeys(p: readonly PropertyKey[]): string[] {
  let shape: unknown = configSchema;
  for (const k of p) {
    if (typeof k !== 'string') continue;
    shape = objectShape(shape)?.[k];
  }
  return Object.keys(objectShape(shape) ?? {});
}

function objectShape(s: unknown): Record<string, unknown> | undefined {
  // Unwrap defaults, optionals, pipes and arrays down to the object, if any.
  let cur = s as { shape?: Record<string, unknown>; def?: { innerType?: unknown; in?: unknown; element?: unknown; schema?: unknown } } | undefined;
  for (let i = 0; i < 8 && cur; i++) {
    if (cur.shape) return cur.shape;
    const d = cur.def;
    cur = (d?.innerType ?? d?.in ?? d?.element ?? d?.schema) as typeof cur;
  }
  return undefined;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

/** A replica's hard memory cap when the config names neither memoryMax nor memoryLimit. */
const DEFAULT_MEMORY_MAX = 1024 ** 3;

/**
 * Gateways share the CPUs with the containers, which do at least as much work per request: half
 * the CPUs, at least one.
 */
export function defaultWorkers(): number {
  return Math.max(1, Math.floor(os.availableParallelism() / 2));
}

function toFunctionConfig(f: ParsedFunction, baseDir: string): FunctionConfig {
  const handler = path.resolve(baseDir, f.handler);
  const name = f.name ?? defaultName(handler);
  return {
    id: f.id,
    name,
    handler,
    replicas: f.scale ? f.scale.min : (f.replicas ?? 1),
    ...(f.scale ? { scale: { min: f.scale.min, max: f.scale.max, target: f.scale.target ?? f.concurrency, idleMs: f.scale.idle, spares: f.scale.spares ?? (f.scale.min === 0 ? 1 : 0) } } : {}),
    concurrency: f.concurrency,
    timeoutMs: f.timeout,
    memoryLimit: f.memoryLimit,
    // Twice the graceful limit leaves room for the replacement to start; without one, 1 GiB.
    memoryMax: f.memoryMax || (f.memoryLimit > 0 ? 2 * f.memoryLimit : DEFAULT_MEMORY_MAX),
    pidsMax: f.pidsMax,
    domain: f.domain ?? name,
    ...(f.user !== undefined ? { user: f.user } : {}),
    env: f.env,
    ...(f.passEnv.length ? { passEnv: f.passEnv } : {}),
    ...(f.public ? { public: true } : {}),
    ...(f.secrets.length ? { secrets: f.secrets } : {}),
  };
}

/** A function that is not in the config (first `faasflow deploy` of an id) gets the defaults. */
export function defaultFunction(id: number, handler: string): FunctionConfig {
  return toFunctionConfig(functionSchema.parse({ id, handler }), process.cwd());
}

function resolve(c: ParsedConfig, file: string, baseDir: string, instance: string): ResolvedConfig {
  const missing: string[] = [];
  const functions: FunctionConfig[] = c.functions.map((f, i) => {
    const fn = toFunctionConfig(f, baseDir);
    if (!fs.existsSync(fn.handler)) missing.push(`  functions[${i}].handler: ${f.handler} does not exist (looked for ${fn.handler}); fix the path, it is relative to ${file ? path.basename(file) : 'the package functions/ directory'}`);
    return fn;
  });
  const flows = resolveFlows(c.flows, functions, c.segment.maxFunctions);
  for (const [at, message] of flows.problems) missing.push(`  ${issuePath(at)}: ${message}`);
  const asyncConfig = resolveAsync(c.async, c.functions);
  const schedules = resolveSchedules(c.schedules, functions, flows.flows, asyncConfig !== undefined, Math.max(...(c.segment.classes ?? DEFAULT_CLASSES).map((k) => k.size)));
  for (const [at, message] of schedules.problems) missing.push(`  ${issuePath(at)}: ${message}`);
  if (missing.length) throw new ConfigError(file, `${file ? rel(file) : 'built-in config'} is invalid:\n${missing.join('\n')}`);
  const runtimeDir = runtimeDirFor(instance, c.runtimeDir && path.resolve(baseDir, c.runtimeDir));
  instancePaths(instance, runtimeDir); // checks the socket path length now, not at `up`'s third step
  const s = c.supervisor;
  return {
    file,
    instance,
    runtimeDir,
    gateway: { host: c.gateway.host, port: c.gateway.port, requestTimeoutMs: c.gateway.requestTimeout, drainDelayMs: c.gateway.drainDelay, workers: c.gateway.workers ?? defaultWorkers(), ...(c.gateway.workers === undefined ? { workersFromCpus: true } : {}), parser: c.gateway.parser, auth: c.gateway.auth, accessLog: c.gateway.accessLog, ...(c.gateway.admin ? { admin: c.gateway.admin } : {}) },
    proxy: { queueLimit: c.proxy.queueLimit },
    ...(c.cpus ? { cpus: c.cpus } : {}),
    spinMicros: c.spinMicros,
    segment: {
      size: c.segment.size,
      classes: c.segment.classes ?? DEFAULT_CLASSES,
      maxFunctions: c.segment.maxFunctions,
      procSlots: c.segment.procSlots,
      waitMs: c.segment.wait,
    },
    functions,
    flows: flows.flows,
    logs: { maxBytes: c.logs.maxSize, keep: c.logs.keep, maxLine: c.logs.maxLine, rate: c.logs.rate, burst: c.logs.burst ?? 4 * c.logs.rate },
    supervisor: { maxRestarts: s.maxRestarts, periodMs: s.period, backoffMinMs: s.backoffMin, backoffMaxMs: s.backoffMax, shutdownTimeoutMs: s.shutdownTimeout, readyTimeoutMs: s.readyTimeout },
    observe: { shmWarnPercent: c.observe.shmWarnPercent, sampleIntervalMs: c.observe.sampleInterval },
    security: { sandbox: c.security.sandbox, ...(c.security.uidBase !== undefined ? { uidBase: c.security.uidBase } : {}) },
    ...withAsync(asyncConfig),
    ...(schedules.schedules.length ? { schedules: schedules.schedules } : {}),
  };
}

function withAsync(a: AsyncConfig | undefined): { async?: AsyncConfig } {
  return a ? { async: a } : {};
}
