// The shape of faasflow.config.ts, its defaults and its checks. Every default lives here so the
// README's config reference and the code cannot disagree.
import { z } from 'zod';
import { parseDuration, parseSize } from '../common/units.js';
import { DEFAULT_SPIN_MICROS } from '../common/env.js';
import { SECRET_NAME_RE, SECRET_NAME_RULE } from '../common/secrets.js';
import { flowSchema } from './flows.js';
import { segmentIssues } from './segment.js';
import { asyncSchema, functionAsyncSchema } from './async.js';
import { scheduleSchema } from './schedules.js';

const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n !== undefined) return n;
  ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a size: write a number of bytes or a string such as '512MiB' or '1GiB'` });
  return z.NEVER;
});

const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseDuration(v);
  if (n !== undefined) return n;
  ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration: write milliseconds as a number or a string such as '500ms', '30s' or '2m'` });
  return z.NEVER;
});

const int = (min: number, max: number) => z.number().int(`must be a whole number from ${min} to ${max}`).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

/** Variables passEnv cannot name: faasflow sets them per function, and says where. */
const PER_FUNCTION = new Map([
  ['NODE_OPTIONS', 'set the function\'s own in functions[].env'],
  ['TMPDIR', 'each domain gets a temporary directory of its own'],
]);

/** `functions[].scale`; `target` defaults to the function's concurrency (config/load.ts). */
const scaleSchema = z.strictObject({
  /** Replicas kept however idle: 0 scales the function to zero (no process while idle). */
  min: int(0, 64).default(0),
  max: int(1, 64),
  /** Requests in flight (queued ones included) per replica the scaler aims for. */
  target: int(1, 100_000).optional(),
  /** How long the load must stay lower before replicas are drained (to zero too). */
  idle: duration.refine((ms) => ms >= 1000 && ms <= 86_400_000, 'must be from 1s to 24h (e.g. \'30s\')').default(30_000),
  /**
   * Warm spares its domain keeps: processes started and sandboxed as its replicas, no function
   * loaded, that a scale-up (from zero too) hands the function in milliseconds. Absent: 1 with
   * min 0, else 0. A domain keeps the most any of its functions asks for.
   */
  spares: int(0, 8).optional(),
}).superRefine((s, ctx) => {
  if (s.spares !== undefined && s.spares > s.max) ctx.addIssue({ code: 'custom', path: ['spares'], message: `${s.spares} spares is more than max ${s.max}: a scale-up never takes more than max at once; set spares to at most ${s.max}` });
});

export const functionSchema = z.strictObject({
  /** The number in POST /function/:id; 1 .. segment.maxFunctions-1. */
  id: int(1, 4095),
  /** Shown in ps/top/metrics; defaults to the handler's file name. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, "_", "-" or "." (starting with a letter or digit)').optional(),
  /** Handler source, relative to the config file. */
  handler: z.string().min(1, 'must name the handler file, e.g. "./functions/echo.ts"'),
  /** A fixed number of replicas; absent: 1, or `scale` sets the count. */
  replicas: int(1, 64).optional(),
  /**
   * Elastic replicas: the supervisor keeps between `min` and `max`, aiming at `target` requests in
   * flight per replica, and drains down to the load after `idle` (see scaleSchema).
   */
  scale: scaleSchema.optional(),
  concurrency: int(1, 100_000).default(16),
  timeout: duration.default(30_000),
  memoryLimit: size.default(0),
  /**
   * Hard cap on one replica's memory (cgroup memory limit, else RLIMIT_DATA): past it the kernel
   * stops the replica. Above memoryLimit, which replaces a replica gracefully before this point.
   */
  memoryMax: size.optional(),
  /** Most processes and threads one replica and what it starts may have (cgroup pids, else RLIMIT_NPROC). */
  pidsMax: int(16, 1_000_000).default(256),
  /**
   * Security domain: functions in one domain share a packet segment (and trust each other); each
   * domain's containers can reach nothing of another's. Defaults to the function's own name.
   */
  domain: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'must be 1-31 lower-case letters, digits or "-" (starting with a letter or digit)').optional(),
  /** User (name or uid) the domain's containers run as when the supervisor runs as root. */
  user: z.union([int(1, 0x7ffffffe), z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a user name or a uid')]).optional(),
  env: z.record(z.string(), z.string({ error: 'environment values must be strings' })).default({}),
  /**
   * Variables of the environment `up` ran in, passed to the function's containers by name. A
   * container sees no other (only faasflow's own, PATH, HOME, LANG, LC_*, TZ and its `env`).
   */
  /** Callable without a token when gateway.auth is on (a health probe, a public webhook). */
  public: z.boolean().default(false),
  passEnv: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be names of environment variables (letters, digits and "_", not starting with a digit)').refine((n) => !PER_FUNCTION.has(n), { error: (iss) => `${String(iss.input)} is the function's own, not the supervisor's: ${PER_FUNCTION.get(String(iss.input))}` })).default([]),
  /**
   * Secrets (`faasflow secret create NAME`) this function's containers can read, as files only its
   * domain can open: ctx.secret(name), or $FAASFLOW_SECRETS_DIR/<name>.
   */
  secrets: z.array(z.string().regex(SECRET_NAME_RE, `secret names ${SECRET_NAME_RULE}`)).default([]),
  /** Retries of its asynchronous requests (POST /async-function/<id>); the rest from the top-level `async`. */
  async: functionAsyncSchema.optional(),
});

const classSchema = z.strictObject({ size, count: int(1, 1 << 24).optional() });

export const configSchema = z
  .strictObject({
    functions: z.array(functionSchema).default([]),
    /** Chains of function calls with fan-out and fan-in: POST /flow/<name>. */
    flows: z.array(flowSchema).default([]),
    gateway: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: int(1, 65535).default(8080),
        requestTimeout: duration.default(60_000),
        /**
         * After a stop begins, how long the gateway keeps serving while /healthz answers 503, so a
         * load balancer in front (HAProxy, a Kubernetes Service) stops sending new requests before
         * the listener closes.
         */
        drainDelay: duration.default(0),
        /** Gateway processes sharing the port (SO_REUSEPORT); default: half the CPUs, at least 1. */
        workers: int(1, 64).optional(),
        /**
         * Which parser reads plain requests: 'light' (faasflow's own, for the request path) or 'node'
         * (Node's, for every request). Either way Node's parser reads whatever the light one does not
         * take: chunked bodies, "Expect", upgrades, HTTP/1.0, malformed input.
         */
        parser: z.enum(['light', 'node']).default('light'),
        /**
         * Bearer tokens (`faasflow token create NAME`) required on /function and /flow, except for
         * functions marked `public`. Off by default so the quick start works without one.
         */
        auth: z.boolean().default(false),
        /** One JSON line per request in logs/access-<gateway>.log (`faasflow logs --access`). */
        accessLog: z.boolean().default(true),
        /**
         * A listener of its own for /healthz, /livez and /metrics (loopback by default, no auth);
         * the public port then answers 404 for them. Absent: they are on the public port.
         */
        admin: z.strictObject({ host: z.string().min(1).default('127.0.0.1'), port: int(1, 65535) }).optional(),
      })
      .prefault({}),
    /** Asynchronous invocation (POST /async-function/<id>): present, or any function's `async`, starts the queue. */
    async: asyncSchema.optional(),
    /** Async requests fired on a cron expression (config/schedules.ts). */
    schedules: z.array(scheduleSchema).default([]),
    proxy: z.strictObject({ queueLimit: int(0, 1_000_000).default(1024) }).prefault({}),
    segment: z
      .strictObject({
        /**
         * Bytes of packets the instance may hold at once, split evenly over its domains at `up`
         * (each at least 64 MiB): each domain's budget. tmpfs allocates lazily: only touched pages cost.
         */
        size: size.default(1024 ** 3),
        /** Packet sizes (powers of two, smallest first); default every power of two from 4 KiB to 16 MiB. */
        classes: z.array(classSchema).min(1, 'list at least one class, or leave segment.classes out for the default').optional(),
        /**
         * How long a request waits for its domain's packet memory when the domain is short for a
         * moment (queued, like a request waiting for a replica) before it is answered 503.
         */
        wait: duration.refine((ms) => ms <= 600_000, 'must be at most 10 minutes (e.g. \'5s\'): a client gives up on a request long before').default(5000),
        maxFunctions: int(2, 4096).default(64),
        procSlots: int(4, 4096).default(128),
      })
      .prefault({}),
    /** CPUs the gateway and containers run on (all when absent). */
    cpus: z.array(int(0, 1023)).min(1).optional(),
    /** Microseconds gateway and containers poll for an answer they expect soon (0: never). */
    spinMicros: int(0, 10_000).default(DEFAULT_SPIN_MICROS),
    /** Base directory for instance runtime directories (<runtimeDir>/<instance>). */
    runtimeDir: z.string().min(1).optional(),
    logs: z
      .strictObject({
        maxSize: size.default(10 * 1024 ** 2),
        keep: int(0, 100).default(3),
        /** Longest line kept of a function's output; a longer one is cut there and marked. */
        maxLine: size.default(16 * 1024),
        /** Bytes a second one function's output may add to its log (lines past it are dropped and counted); 0: no limit. */
        rate: size.default(1024 ** 2),
        /** What a function may write at once above `rate`; default 4 × rate. */
        burst: size.optional(),
      })
      .prefault({}),
    supervisor: z
      .strictObject({
        maxRestarts: int(0, 1000).default(5),
        period: duration.default(60_000),
        backoffMin: duration.default(100),
        backoffMax: duration.default(10_000),
        /**
         * How long a process gets to exit once its work is done, before SIGKILL. A stop first lets
         * every request and flow in flight run to its own timeout (config/stop.ts); this is added.
         */
        shutdownTimeout: duration.default(10_000),
        readyTimeout: duration.default(30_000),
      })
      .prefault({}),
    security: z
      .strictObject({
        /**
         * Run each domain's containers in a kernel sandbox: their own uid/gid when the supervisor is
         * root, Landlock and no_new_privs always where the kernel has them. false: no isolation
         * (ps, top and up then say `none`).
         */
        sandbox: z.boolean().default(true),
        /** First uid/gid for the domains' users when none is given (root only); default from the instance name. */
        uidBase: int(1000, 0x7fff0000).optional(),
      })
      .prefault({}),
    observe: z.strictObject({ shmWarnPercent: int(1, 100).default(80), sampleInterval: duration.default(2000) }).prefault({}),
  })
  .superRefine((c, ctx) => {
    const seenId = new Map<number, number>();
    const seenName = new Map<string, number>();
    c.functions.forEach((f, i) => {
      const prev = seenId.get(f.id);
      if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['functions', i, 'id'], message: `duplicate id ${f.id} (functions[${prev}] has it too): give every function its own id` });
      else seenId.set(f.id, i);
      if (f.id >= c.segment.maxFunctions) ctx.addIssue({ code: 'custom', path: ['functions', i, 'id'], message: `id ${f.id} does not fit: ids go up to segment.maxFunctions-1 (${c.segment.maxFunctions - 1}); raise segment.maxFunctions or pick a smaller id` });
      // A missing name defaults to the handler's file name, so two functions of one file clash too.
      const name = f.name ?? defaultName(f.handler);
      const p = seenName.get(name);
      if (p !== undefined) ctx.addIssue({ code: 'custom', path: ['functions', i, 'name'], message: `duplicate name "${name}" (functions[${p}] has it too${f.name === undefined ? `; "${name}" is the default, from the handler's file name` : ''}): names must be unique, set \`name\`` });
      else seenName.set(name, i);
    });
    const users = new Map<string, { user: string | number; at: number }>();
    c.functions.forEach((f, i) => {
      if (f.scale && f.replicas !== undefined) ctx.addIssue({ code: 'custom', path: ['functions', i, 'replicas'], message: 'set either replicas (a fixed count) or scale (min..max, set by the load), not both: remove replicas, scale.min is the floor' });
      if (f.scale && f.scale.min > f.scale.max) ctx.addIssue({ code: 'custom', path: ['functions', i, 'scale', 'min'], message: `min ${f.scale.min} is above max ${f.scale.max}: the floor must not exceed the ceiling` });
      if (f.memoryMax !== undefined && f.memoryMax > 0 && f.memoryMax < f.memoryLimit) ctx.addIssue({ code: 'custom', path: ['functions', i, 'memoryMax'], message: `must be at least memoryLimit (${f.memoryLimit} bytes): memoryLimit replaces a replica gracefully before the hard cap stops it` });
      if (f.user === undefined) return;
      const domain = f.domain ?? f.name ?? defaultName(f.handler);
      const prev = users.get(domain);
      if (prev && prev.user !== f.user) ctx.addIssue({ code: 'custom', path: ['functions', i, 'user'], message: `domain "${domain}" already runs as ${JSON.stringify(prev.user)} (functions[${prev.at}]): functions of one domain share one user` });
      else users.set(domain, { user: f.user, at: i });
    });
    logsRefine(c.logs, ctx);
    const admin = c.gateway.admin;
    if (admin && admin.port === c.gateway.port && (admin.host === c.gateway.host || [admin.host, c.gateway.host].some((h) => h === '0.0.0.0' || h === '::'))) {
      ctx.addIssue({ code: 'custom', path: ['gateway', 'admin', 'port'], message: `is gateway.port (${c.gateway.port}) too: give the admin listener a port of its own, e.g. ${c.gateway.port === 9090 ? 9091 : 9090}` });
    }
    if (c.supervisor.backoffMax < c.supervisor.backoffMin) ctx.addIssue({ code: 'custom', path: ['supervisor', 'backoffMax'], message: 'must not be below supervisor.backoffMin' });
    const domains = new Set(c.functions.map((f) => f.domain ?? f.name ?? defaultName(f.handler))).size;
    for (const issue of segmentIssues(c.segment.size, c.segment.classes, domains)) ctx.addIssue({ code: 'custom', ...issue });
  });

export type UserConfig = z.input<typeof configSchema>;
export type UserFunction = z.input<typeof functionSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type ParsedFunction = z.output<typeof functionSchema>;

/** Bounds of a log line: big enough for a stack trace, small enough that one line is never a dump. */
const MIN_LINE = 1024;
const MAX_LINE = 1024 ** 2;

function logsRefine(l: { maxLine: number; rate: number; burst?: number }, ctx: z.RefinementCtx): void {
  const at = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: ['logs', field], message });
  if (l.maxLine < MIN_LINE || l.maxLine > MAX_LINE) at('maxLine', `${l.maxLine} bytes is out of range: a line may be cut at 1KiB to 1MiB ('16KiB' is the default)`);
  if (l.rate > 0 && l.rate < MIN_LINE) at('rate', `${l.rate} bytes a second is below 1KiB: write at least '1KiB', or 0 for no limit`);
  const burst = l.burst ?? 4 * l.rate;
  if (l.rate > 0 && burst < l.maxLine + MIN_LINE) at('burst', `${burst} bytes is below logs.maxLine + 1KiB (${l.maxLine + MIN_LINE}): the longest line with its timestamp could never be written; raise logs.burst or lower logs.maxLine`);
}

/** A function's name when the config gives none: its handler's file name without the extension. */
export function defaultName(handler: string): string {
  return handler.split(/[\\/]/).pop()!.replace(/\.[cm]?[jt]s$/, '');
}
