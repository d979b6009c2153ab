// Fires the config's `schedules` into the async queue: each slot of a schedule's cron expression
// becomes one async request, handed to the queue process over its socket exactly like a gateway's
// PUT (so it is committed, run through a gateway, logged, retried and dead-lettered like any other).
// It runs in the supervisor: one process per instance, alive exactly while the instance is up.
//
// A slot is enqueued at most once. Its request id is derived from (instance, schedule, slot), and
// the queue keeps one request per id (a second copy, whoever sends it, is a no-op); before sending, the id is
// looked up (a copy committed just before a crash is found, not sent again); and the last slot
// handed over is recorded in the state directory (schedules.json), which outlives the result's
// expiry. At start, a schedule whose latest slot passed while the instance was down fires that
// one slot (not a backlog); a new or changed schedule starts from the next slot.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Cron } from 'croner';
import { cronOf, type ScheduleConfig } from '../../config/schedules.js';

/** What the schedules need of the queue: QueueLink in producer mode (it takes no runs). */
export interface QueueSink {
  put(json: object, body: Uint8Array): Promise<void>;
  result(id: string, caller: string): Promise<{ json: Record<string, unknown> }>;
  close(): void;
}

/** The last slot handed to the queue, per schedule name, and the expression it was a slot of. */
type State = Record<string, { expr: string; slot: number }>;

/** A sleep longer than this is cut into several: setTimeout's limit, and clock changes. */
const MAX_SLEEP_MS = 60_000;
/** After a failed hand-over (the queue restarting) the slot is tried again after about this long (±50 %). */
const RETRY_MS = 1000;
/** Slots one schedule may have waiting for the queue; past it the oldest is dropped (and logged). */
const MAX_OWED = 60;

interface Entry {
  s: ScheduleConfig;
  cron: Cron;
  /** Slots due and not yet handed over, oldest first. */
  owed: number[];
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
  failing: boolean;
}

export class Schedules {
  private readonly entries: Entry[];
  private state: State;
  private stopped = false;
  /** Slots handed over since start, and hand-overs that failed (each retried). */
  fired = 0;
  failures = 0;

  constructor(
    private readonly instance: string,
    list: ScheduleConfig[],
    private readonly stateFile: string,
    private readonly queue: QueueSink,
    private readonly say: (level: 'info' | 'warn', message: string) => void,
  ) {
    this.entries = list.map((s) => ({ s, cron: cronOf(s.cron, s.timezone), owed: [], busy: false, timer: undefined, failing: false }));
    this.state = readState(stateFile);
  }

  /** Fires each schedule's slot missed while the instance was down (the latest only), then arms them. */
  start(now = Date.now()): void {
    let changed = false;
    for (const e of this.entries) {
      const expr = exprKey(e.s);
      const rec = this.state[e.s.name];
      // croner's previousRuns(d) leaves out d's own second, which nextRun(d) leaves out too: ask from
      // the next second so a slot falling in this one (start during it) is neither skipped nor late.
      const latest = e.cron.previousRuns(1, new Date(Math.floor(now / 1000) * 1000 + 1000))[0]?.getTime();
      if (rec && rec.expr === expr) {
        if (latest !== undefined && latest > rec.slot) {
          this.say('info', `schedule ${e.s.name}: slot ${new Date(latest).toISOString()} passed while the instance was down: firing it once`);
          this.due(e, latest);
        }
      } else {
        // New, or its expression changed: nothing it had is owed; it starts with the next slot.
        this.state[e.s.name] = { expr, slot: latest ?? now };
        changed = true;
      }
      this.arm(e);
    }
    if (changed) this.save();
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries) clearTimeout(e.timer);
    this.queue.close();
  }

  /** The next slot after the last one handed over (or now), and a timer for it. */
  private arm(e: Entry): void {
    if (this.stopped) return;
    const now = Date.now();
    const after = Math.max(now, this.state[e.s.name]?.slot ?? 0, e.owed[e.owed.length - 1] ?? 0);
    const next = e.cron.nextRun(new Date(after))?.getTime();
    if (next === undefined) return; // an expression with no future slot (a past year)
    e.timer = setTimeout(() => {
      // A timer that fired late (a busy machine) may have slept past more slots than `next`: each
      // is owed, up to MAX_OWED of them; arm() then starts after the last.
      const t = Date.now();
      let slot: number | undefined = next;
      for (let n = 0; slot !== undefined && slot <= t && n < MAX_OWED; n++) {
        this.due(e, slot);
        slot = e.cron.nextRun(new Date(slot))?.getTime();
      }
      this.arm(e);
    }, Math.min(MAX_SLEEP_MS, Math.max(0, next - now)));
  }

  /**
   * Slot `slot` is due. Slots that come due while the instance runs are all owed, in order (the
   * queue restarting for a few seconds costs none of them), up to MAX_OWED; past it the oldest go.
   */
  private due(e: Entry, slot: number): void {
    if (slot <= (this.state[e.s.name]?.slot ?? 0) || slot <= (e.owed[e.owed.length - 1] ?? 0)) return;
    e.owed.push(slot);
    if (e.owed.length > MAX_OWED) {
      const lost = e.owed.shift()!;
      this.say('warn', `schedule ${e.s.name}: slot ${new Date(lost).toISOString()} dropped: ${MAX_OWED} slots are waiting for the queue`);
    }
    if (!e.busy) void this.handOver(e);
  }

  private async handOver(e: Entry): Promise<void> {
    e.busy = true;
    while (!this.stopped && e.owed.length) {
      const slot = e.owed[0];
      try {
        await this.enqueue(e.s, slot);
        this.state[e.s.name] = { expr: exprKey(e.s), slot };
        this.save();
        if (e.owed[0] === slot) e.owed.shift();
        this.fired++;
        if (e.failing) this.say('info', `schedule ${e.s.name}: handing slots to the queue again`);
        e.failing = false;
      } catch (err) {
        if (this.stopped) break; // the link closed under it: the slot is still owed at the next start
        this.failures++;
        if (!e.failing) this.say('warn', `schedule ${e.s.name}: slot ${new Date(slot).toISOString()} not handed to the queue yet (${(err as Error).message}); retrying about every ${RETRY_MS} ms`);
        e.failing = true;
        await new Promise((r) => setTimeout(r, RETRY_MS * (0.5 + Math.random())));
      }
    }
    e.busy = false;
  }

  private async enqueue(s: ScheduleConfig, slot: number): Promise<void> {
    const id = slotId(this.instance, s.name, slot);
    const caller = `schedule:${s.name}`;
    // Committed already (by a run of this process that died before recording it): not again.
    if ((await this.queue.result(id, caller)).json.found === true) return;
    const headers: [string, string][] = [...s.headers, ['X-Faasflow-Schedule', s.name], ['X-Faasflow-Slot', new Date(slot).toISOString()]];
    await this.queue.put({ id, kind: s.kind, target: s.target, name: s.targetName, fn: s.fn, caller, headers, query: '', ...(s.callback ? { callback: s.callback } : {}) }, Buffer.from(s.body));
  }

  private save(): void {
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.stateFile), { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, JSON.stringify(this.state), { mode: 0o600 });
      fs.renameSync(tmp, this.stateFile);
    } catch (err) {
      // The request ids still keep a slot from running twice while its result is kept.
      this.say('warn', `cannot record the schedules' last slots in ${this.stateFile}: ${(err as Error).message}`);
    }
  }
}

function exprKey(s: ScheduleConfig): string {
  return s.timezone ? `${s.cron} ${s.timezone}` : s.cron;
}

/** The request id of a schedule's slot: the same in every process and after every restart. */
export function slotId(instance: string, name: string, slot: number): string {
  const h = crypto.createHash('sha256').update(`faasflow schedule\0${instance}\0${name}\0${slot}`).digest();
  h[6] = (h[6] & 0x0f) | 0x80; // UUID version 8 (custom), RFC 9562
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function readState(file: string): State {
  try {
    const v: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    const out: State = {};
    for (const [k, r] of Object.entries(v as Record<string, unknown>)) {
      const o = r as { expr?: unknown; slot?: unknown };
      if (typeof o?.expr === 'string' && typeof o.slot === 'number' && Number.isFinite(o.slot)) out[k] = { expr: o.expr, slot: o.slot };
    }
    return out;
  } catch {
    return {}; // none yet (or unreadable: every schedule starts from its next slot)
  }
}
