// Asynchronous invocation in faasflow.config.ts: `async` (the queue's defaults, and whether the
// instance runs a queue at all) and `functions[].async` (one function's retries). An instance whose
// config names neither runs no queue process and answers /async-* with 404 naming the fix.
import { z } from 'zod';
import { parseDuration } from '../common/units.js';

const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseDuration(v);
  if (n !== undefined) return n;
  ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration: write milliseconds as a number or a string such as '500ms', '30s' or '2m'` });
  return z.NEVER;
});

/** NATS server URLs: nats://host:port (or tls://), several comma-separated for a cluster. */
const natsUrl = z.string().transform((v, ctx) => {
  const urls = v.split(',').map((u) => u.trim()).filter(Boolean);
  const bad = urls.find((u) => {
    try {
      const p = new URL(u);
      return !['nats:', 'tls:'].includes(p.protocol) || !p.hostname;
    } catch {
      return true;
    }
  });
  if (!urls.length || bad !== undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(bad ?? v)} is not a NATS server URL: write e.g. 'nats://127.0.0.1:4222' (several comma-separated for a cluster)` });
    return z.NEVER;
  }
  return urls;
});

/** Where the queue keeps its requests: absent, SQLite in the state directory; `nats`, a JetStream stream. */
const storeSchema = z.strictObject({
  nats: z.strictObject({
    url: natsUrl,
    /** The stream (one per instance): letters, digits, "_" and "-". Default FAASFLOW_<instance>. */
    stream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-" (a JetStream stream name and subject token)').optional(),
    /** Copies of the stream in a JetStream cluster (1 on a single server). */
    replicas: z.union([z.literal(1), z.literal(3), z.literal(5)], { error: 'must be 1, 3 or 5' }).default(1),
  }),
});

const retries = z.number().int('must be a whole number from 0 to 100').min(0, 'must be at least 0').max(100, 'must be at most 100');

/** One function's retry policy; what it leaves out comes from the top-level `async`. */
export const functionAsyncSchema = z.strictObject({
  /** Attempts after the first that a 5xx or a timeout earns. */
  retries: retries.optional(),
  /** Delay before the first retry; doubles with each one, up to async.backoffMax. */
  backoff: duration.optional(),
  /** Past this age (since it was accepted) a request is not tried again: it goes to the dead letters. */
  maxAge: duration.optional(),
});

export const asyncSchema = z.strictObject({
  retries: retries.default(3),
  backoff: duration.default(1000),
  backoffMax: duration.default(60_000),
  maxAge: duration.default(3_600_000),
  /** How long a finished request's result is kept for GET /async-result/<id> (dead letters stay until `queue purge`). */
  keepResults: duration.default(3_600_000),
  /** Requests the queue runs at once over all functions. */
  concurrency: z.number().int().min(1).max(10_000).default(64),
  /** Attempts to POST a result to its X-Callback-Url (5xx, timeouts, refused connections), with the same backoff. */
  callbackRetries: retries.default(10),
  callbackTimeout: duration.default(10_000),
  store: storeSchema.optional(),
  /**
   * What an accepted request (a 202) survives: 'power' (a power cut: SQLite fsyncs each group
   * commit, synchronous=FULL) or 'process' (a killed process: synchronous=NORMAL, no fsync per
   * commit, so a power cut may lose the last commits).
   */
  durability: z.enum(['power', 'process'], { error: "must be 'power' (survives a power cut; the default) or 'process' (survives a killed process, faster)" }).default('power'),
});

export type StoreConfig = { kind: 'sqlite' } | { kind: 'nats'; servers: string[]; stream?: string; replicas: 1 | 3 | 5 };
export type Durability = 'power' | 'process';

export interface RetryPolicy {
  retries: number;
  backoffMs: number;
  maxAgeMs: number;
}

export interface AsyncConfig extends RetryPolicy {
  backoffMaxMs: number;
  keepResultsMs: number;
  concurrency: number;
  callbackRetries: number;
  callbackTimeoutMs: number;
  store: StoreConfig;
  durability: Durability;
  /** Per function id, where the function overrides the defaults. */
  functions: Record<number, RetryPolicy>;
}

type ParsedAsync = z.output<typeof asyncSchema>;
type ParsedFnAsync = z.output<typeof functionAsyncSchema>;

/** The resolved `async`, or undefined when neither the config nor any function asks for it. */
export function resolveAsync(top: ParsedAsync | undefined, fns: { id: number; async?: ParsedFnAsync }[]): AsyncConfig | undefined {
  if (!top && !fns.some((f) => f.async)) return undefined;
  const d = top ?? asyncSchema.parse({});
  const functions: Record<number, RetryPolicy> = {};
  for (const f of fns) if (f.async) functions[f.id] = { retries: f.async.retries ?? d.retries, backoffMs: f.async.backoff ?? d.backoff, maxAgeMs: f.async.maxAge ?? d.maxAge };
  return {
    retries: d.retries, backoffMs: d.backoff, backoffMaxMs: d.backoffMax, maxAgeMs: d.maxAge, keepResultsMs: d.keepResults,
    concurrency: d.concurrency, callbackRetries: d.callbackRetries, callbackTimeoutMs: d.callbackTimeout,
    store: !d.store ? { kind: 'sqlite' } : { kind: 'nats', servers: d.store.nats.url, replicas: d.store.nats.replicas, ...(d.store.nats.stream ? { stream: d.store.nats.stream } : {}) },
    durability: d.durability, functions,
  };
}

/** The policy for a function (or a flow: fn 0, the defaults). */
export function policyFor(a: AsyncConfig, fn: number): RetryPolicy {
  return a.functions[fn] ?? a;
}

/** The delay before retry number `n` (1-based): backoff doubled n-1 times, capped. */
export function backoffDelay(a: AsyncConfig, p: RetryPolicy, n: number): number {
  return Math.min(a.backoffMaxMs, p.backoffMs * 2 ** Math.min(30, Math.max(0, n - 1)));
}
