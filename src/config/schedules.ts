// Scheduled async requests in faasflow.config.ts: `schedules: [{ cron, function | flow, body?, ... }]`.
// Each slot of a schedule's cron expression becomes one async request (as if POSTed to
// /async-function/<id> or /async-flow/<name>), fired by the supervisor (runtime/queue/schedules.ts).
// The cron expression is parsed here with croner, so a bad one is refused at `up`, not at 3 a.m.
import { z } from 'zod';
import { Cron } from 'croner';

/** A cron expression croner accepts (5 fields, or 6 with seconds first), checked now. */
const cron = z.string().superRefine((v, ctx) => {
  const why = cronProblem(v);
  if (why) ctx.addIssue({ code: 'custom', message: why });
});

const target = z.union([z.string().min(1), z.number().int().min(0)]);

export const scheduleSchema = z.strictObject({
  /** Names the schedule in `queue ls` (the caller `schedule:<name>`) and keys its last fired slot. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, "_", "-" or "." (starting with a letter or digit)').optional(),
  /** 'minute hour day-of-month month day-of-week', or with a seconds field first: '*\/5 * * * * *'. */
  cron,
  /** IANA time zone the expression is read in (default: the machine's). */
  timezone: z.string().min(1).optional(),
  /** The function to call, by name or id; or `flow`. */
  function: target.optional(),
  flow: z.string().min(1).optional(),
  /** The request body (a string, sent as UTF-8). */
  body: z.string().max(1 << 20, 'must be at most 1 MiB').default(''),
  headers: z.record(z.string(), z.string()).default({}),
  /** Where the result is POSTed, as X-Callback-Url would. */
  callback: z.url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL' }).optional(),
});

export type ParsedSchedule = z.output<typeof scheduleSchema>;

export interface ScheduleConfig {
  name: string;
  cron: string;
  timezone?: string;
  kind: 'function' | 'flow';
  /** A function's id (as text) or a flow's name, as the queue stores it. */
  target: string;
  /** The function's or flow's name. */
  targetName: string;
  fn: number;
  body: string;
  headers: [string, string][];
  callback?: string;
}

/** A schedule's expression as croner reads it: 5 fields, or 6 with seconds; no timer of its own. */
export function cronOf(expr: string, timezone?: string): Cron {
  return new Cron(expr, { mode: '5-or-6-parts', ...(timezone ? { timezone } : {}) });
}

/** Why croner refuses `expr` (undefined: it parses). */
export function cronProblem(expr: string, timezone?: string): string | undefined {
  try {
    cronOf(expr, timezone);
    return undefined;
  } catch (err) {
    return `${JSON.stringify(expr)} is not a cron expression (${(err as Error).message}): write 5 fields 'minute hour day month weekday' such as '*/5 * * * *', or 6 with seconds first such as '*/10 * * * * *'`;
  }
}

/** Header names the queue sets itself, or that carry the connection's framing. */
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'x-request-id', 'x-faasflow-attempt', 'x-callback-url', 'authorization']);

/**
 * Resolves each schedule's target against the config's functions and flows. Problems come back as
 * [path, message] pairs, each naming the field and the fix.
 */
export function resolveSchedules(
  schedules: ParsedSchedule[],
  functions: { id: number; name: string }[],
  flows: { name: string }[],
  hasAsync: boolean,
  /** The largest body a request may have (the largest packet class). */
  maxBody: number,
): { schedules: ScheduleConfig[]; problems: [Array<string | number>, string][] } {
  const problems: [Array<string | number>, string][] = [];
  const out: ScheduleConfig[] = [];
  if (schedules.length && !hasAsync) problems.push([['schedules'], 'schedules run as async requests, and this config has no async queue: add `async: {}` to faasflow.config.ts']);
  const byName = new Map(functions.map((f) => [f.name, f]));
  const byId = new Map(functions.map((f) => [f.id, f]));
  const seen = new Map<string, number>();
  schedules.forEach((s, i) => {
    const at = ['schedules', i];
    if (s.timezone) {
      const why = cronProblem(s.cron, s.timezone);
      if (why) return void problems.push([[...at, 'timezone'], `${JSON.stringify(s.timezone)} is not a time zone croner knows: use an IANA name such as 'Europe/Berlin' or 'UTC'`]);
    }
    const bytes = Buffer.byteLength(s.body);
    if (bytes > maxBody) problems.push([[...at, 'body'], `is ${bytes} bytes, larger than the largest packet class (${maxBody} bytes): shorten it or add a larger segment.classes entry`]);
    for (const h of Object.keys(s.headers)) {
      if (RESERVED.has(h.toLowerCase())) problems.push([[...at, 'headers', h], `is set by faasflow itself${h.toLowerCase() === 'x-callback-url' ? ': use the schedule\'s `callback` field' : ''}; remove it`]);
      else if (/[\r\n]/.test(h + s.headers[h]) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h)) problems.push([[...at, 'headers', h], 'is not a valid header line: a token name and a value without line breaks']);
    }
    let target: Pick<ScheduleConfig, 'kind' | 'target' | 'targetName' | 'fn'> | undefined;
    if ((s.function === undefined) === (s.flow === undefined)) {
      problems.push([at, 'name what the schedule calls: either `function` (a name or id) or `flow` (a name), not both']);
    } else if (s.flow !== undefined) {
      if (!flows.some((f) => f.name === s.flow)) problems.push([[...at, 'flow'], `unknown flow ${JSON.stringify(s.flow)}: name a flow of this config (${flows.map((f) => f.name).join(', ') || 'none'})`]);
      else target = { kind: 'flow', target: s.flow, targetName: s.flow, fn: 0 };
    } else {
      const t = s.function!;
      const f = typeof t === 'number' ? byId.get(t) : (byName.get(t) ?? (/^\d+$/.test(t) ? byId.get(Number(t)) : undefined));
      if (!f) problems.push([[...at, 'function'], `unknown function ${JSON.stringify(t)}: name a function of this config (${functions.map((x) => `${x.id} ${x.name}`).join(', ') || 'none'})`]);
      else target = { kind: 'function', target: String(f.id), targetName: f.name, fn: f.id };
    }
    if (!target) return;
    // The default name is stable while the schedule is: its last fired slot is kept under it.
    const name = s.name ?? `${target.targetName}-${i}`;
    const prev = seen.get(name);
    if (prev !== undefined) return void problems.push([[...at, 'name'], `duplicate schedule name "${name}" (schedules[${prev}] has it too): give each schedule its own \`name\``]);
    seen.set(name, i);
    out.push({
      name, cron: s.cron, ...(s.timezone ? { timezone: s.timezone } : {}), ...target, body: s.body,
      headers: Object.entries(s.headers), ...(s.callback ? { callback: s.callback } : {}),
    });
  });
  return { schedules: out, problems };
}
