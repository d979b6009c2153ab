// Flows in faasflow.config.ts: chains of function calls with fan-out and fan-in, and what they
// resolve to. A step names a function by name or id; a `parallel` group runs its branches on the
// same input, and the step after it gets their outputs in order.
import { z } from 'zod';
import { parseDuration } from '../common/units.js';

const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseDuration(v);
  if (n !== undefined) return n;
  ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration: write milliseconds as a number or a string such as '500ms', '30s' or '2m'` });
  return z.NEVER;
});

const target = z.union([z.string().min(1), z.number().int().min(1)]);

/** One function call: by name or id, or with its own timeout and retries. */
const callSchema = z.union([
  target,
  z.strictObject({
    function: target,
    /** This step's own deadline (default: the flow's remaining time, and the function's timeout). */
    timeout: duration.optional(),
    /** Times the step is retried after a 5xx or a timeout: only for idempotent functions. */
    retries: z.number().int().min(0).max(10).default(0),
  }),
]);

const stepSchema = z.union([callSchema, z.strictObject({ parallel: z.array(callSchema), timeout: duration.optional() })]);

export const flowSchema = z.strictObject({
  /** The N in POST /flow/<name>. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, "_", "-" or "." (starting with a letter or digit)'),
  steps: z.array(stepSchema).min(1, 'a flow has at least one step'),
  /** The whole flow's deadline (default: the sum of its steps' function timeouts). */
  timeout: duration.optional(),
});

export type UserFlow = z.input<typeof flowSchema>;
export type ParsedFlow = z.output<typeof flowSchema>;

export interface FlowCall {
  functionId: number;
  /** This step's own stats row (its calls' latency and statuses within this flow). */
  statsId: number;
  /** The function's name, for errors, logs and stats. */
  name: string;
  timeoutMs?: number;
  retries: number;
}

export type FlowStep = { kind: 'call'; call: FlowCall } | { kind: 'parallel'; branches: FlowCall[]; timeoutMs?: number };

export interface FlowConfig {
  name: string;
  /** Where its counters and latency live: a function stats row from the top of the table. */
  statsId: number;
  steps: FlowStep[];
  timeoutMs?: number;
}

interface KnownFunction {
  id: number;
  name: string;
}

/**
 * Checks flows against the functions and resolves every step to a function id. Returns the
 * problems as [path, message] pairs (empty when all is well) and the resolved flows.
 */
export function resolveFlows(flows: ParsedFlow[], functions: KnownFunction[], maxFunctions: number): { flows: FlowConfig[]; problems: [Array<string | number>, string][] } {
  const problems: [Array<string | number>, string][] = [];
  // Flows count in the function stats table, from its last row down (a row per flow and one per
  // step of it): function ids stay below them.
  const rows = flows.reduce((n: number, f) => n + 1 + f.steps.reduce((m: number, s) => m + (typeof s === 'object' && 'parallel' in s ? s.parallel.length : 1), 0), 0);
  const firstFlowRow = maxFunctions - rows;
  for (const f of functions) {
    if (rows && f.id >= firstFlowRow) problems.push([['flows'], `function ${f.id} (${f.name}) and the flows' ${rows} stats rows (one per flow and per step) do not fit in segment.maxFunctions (${maxFunctions}): raise segment.maxFunctions or give functions smaller ids`]);
  }
  let row = maxFunctions;
  const byName = new Map(functions.map((f) => [f.name, f]));
  const byId = new Map(functions.map((f) => [f.id, f]));
  const call = (c: z.output<typeof callSchema>, at: Array<string | number>): FlowCall | undefined => {
    const t = typeof c === 'object' ? c.function : c;
    const f = typeof t === 'number' ? byId.get(t) : (byName.get(t) ?? (/^\d+$/.test(t) ? byId.get(Number(t)) : undefined));
    if (!f) {
      problems.push([typeof c === 'object' ? [...at, 'function'] : at, `unknown function ${JSON.stringify(t)}: name a function of this config (${functions.map((x) => `${x.id} ${x.name}`).join(', ') || 'none'})`]);
      return undefined;
    }
    const statsId = --row;
    return typeof c === 'object' ? { functionId: f.id, statsId, name: f.name, ...(c.timeout !== undefined ? { timeoutMs: c.timeout } : {}), retries: c.retries } : { functionId: f.id, statsId, name: f.name, retries: 0 };
  };
  const seen = new Map<string, number>();
  const out: FlowConfig[] = [];
  flows.forEach((flow, i) => {
    const prev = seen.get(flow.name);
    if (prev !== undefined) problems.push([['flows', i, 'name'], `duplicate flow name "${flow.name}" (flows[${prev}] has it too)`]);
    else seen.set(flow.name, i);
    const statsId = --row;
    const steps: FlowStep[] = [];
    flow.steps.forEach((s, j) => {
      const at = ['flows', i, 'steps', j];
      if (typeof s === 'object' && 'parallel' in s) {
        if (s.parallel.length === 0) problems.push([[...at, 'parallel'], 'an empty parallel group: give it at least one function']);
        if (j === flow.steps.length - 1) problems.push([at, 'a parallel group cannot be the last step: add a step after it that joins the outputs (it gets them as ctx.inputs)']);
        const branches = s.parallel.map((b, k) => call(b, [...at, 'parallel', k])).filter((b): b is FlowCall => b !== undefined);
        steps.push({ kind: 'parallel', branches, ...(s.timeout !== undefined ? { timeoutMs: s.timeout } : {}) });
      } else {
        const c = call(s, at);
        if (c) steps.push({ kind: 'call', call: c });
      }
    });
    out.push({ name: flow.name, statsId, steps, ...(flow.timeout !== undefined ? { timeoutMs: flow.timeout } : {}) });
  });
  return { flows: out, problems };
}

/** The lowest stats row `flows` use: function ids stay below it (`maxFunctions` when there are no flows). */
export function lowestFlowRow(flows: readonly FlowConfig[], maxFunctions: number): number {
  let low = maxFunctions;
  for (const f of flows) {
    low = Math.min(low, f.statsId);
    for (const st of f.steps) for (const c of st.kind === 'call' ? [st.call] : st.branches) low = Math.min(low, c.statsId);
  }
  return low;
}

/** Names of the flows that call function `id` in some step (they call whatever serves that id). */
export function flowsUsing(flows: readonly FlowConfig[], id: number): string[] {
  return flows.filter((f) => f.steps.some((st) => (st.kind === 'call' ? [st.call] : st.branches).some((c) => c.functionId === id))).map((f) => f.name);
}
