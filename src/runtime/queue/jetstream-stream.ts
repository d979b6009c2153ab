// The async queue's requests in a NATS JetStream stream, as both the queue process
// (jetstream-store.ts) and `faasflow queue …` (jetstream-admin.ts) read and write them. One stream
// per instance, at most one message per subject, so the stream is a table whose rows are subjects:
//   <S>.req.<id>     the accepted request (its fields and body), published before the 202;
//   <S>.state.<id>   its latest state: attempts and next try, a callback's progress, a tombstone;
//   <S>.result.<id>  its final answer (done or dead) with the result body;
//   <S>.counters     the queue's totals (accepted, completed, retries ...).
// A message's data is u32 LE length · JSON · body. Reading the stream in order and applying each
// message (`apply`) rebuilds every request's row: that is how a restarted queue finds its work.
import { connect, type JetStreamManager, type NatsConnection, type StreamConfig, DiscardPolicy, RetentionPolicy, StorageType, nanos } from 'nats';
import type { CallbackState, NewRequest, Row, State } from './store.js';

/** A request id as a subject token: the gateway's UUIDs, and nothing that could change a subject. */
export const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface NatsTarget {
  servers: string[];
  stream: string;
  replicas: 1 | 3 | 5;
}

/** The stream an instance's queue uses: async.store.nats.stream, else FAASFLOW_<instance>. */
export function streamFor(instance: string, stream?: string): string {
  return stream ?? `FAASFLOW_${instance.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export const subject = {
  req: (s: string, id: string) => `${s}.req.${id}`,
  state: (s: string, id: string) => `${s}.state.${id}`,
  result: (s: string, id: string) => `${s}.result.${id}`,
  counters: (s: string) => `${s}.counters`,
  /** Every subject of one request. */
  all: (s: string, id: string) => `${s}.*.${id}`,
};

export function encode(json: object, body?: Uint8Array | null): Uint8Array {
  const j = Buffer.from(JSON.stringify(json));
  const out = Buffer.allocUnsafe(4 + j.length + (body?.length ?? 0));
  out.writeUInt32LE(j.length, 0);
  j.copy(out, 4);
  if (body) out.set(body, 4 + j.length);
  return out;
}

export function decode(data: Uint8Array): { json: Record<string, unknown>; body: Buffer } | undefined {
  const b = Buffer.from(data.buffer, data.byteOffset, data.length);
  if (b.length < 4) return undefined;
  const n = b.readUInt32LE(0);
  if (4 + n > b.length) return undefined;
  try {
    const json: unknown = JSON.parse(b.toString('utf8', 4, 4 + n));
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
    return { json: json as Record<string, unknown>, body: Buffer.from(b.subarray(4 + n)) };
  } catch {
    return undefined;
  }
}

/** A request as the stream holds it: its row, the request body until it is final, the result body while known. */
export interface StreamRow extends Row {
  body: Buffer | null;
  result_body: Buffer | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const STATES = new Set<unknown>(['pending', 'done', 'dead']);
const CB_STATES = new Set<unknown>(['pending', 'done', 'failed']);

/** The row of a request the stream has just stored at `seq`. */
export function newRow(seq: number, r: NewRequest, headers: string): StreamRow {
  return {
    seq, id: r.id, kind: r.kind, target: r.target, name: r.name, fn: r.fn, caller: r.caller, headers, query: r.query, callback: r.callback,
    state: 'pending', attempts: 0, next_at: r.createdAt, created_at: r.createdAt, finished_at: null, status: null, result_headers: null, error: null,
    cb_state: null, cb_attempts: 0, cb_next_at: null, body: r.body, result_body: null,
  };
}

export function depthOf(rows: Map<string, StreamRow>, pending: Map<string, StreamRow>): { pending: number; oldest: number | null; dead: number; done: number } {
  let oldest: number | null = null;
  for (const r of pending.values()) if (oldest === null || r.created_at < oldest) oldest = r.created_at;
  let dead = 0;
  let done = 0;
  for (const r of rows.values()) {
    if (r.state === 'dead') dead++;
    else if (r.state === 'done') done++;
  }
  return { pending: pending.size, oldest, dead, done };
}

/** The writer of a message (a queue process's random id, or 'cli'). */
export function writerOf(data: Uint8Array): string | null {
  return str(decode(data)?.json.w);
}

/**
 * Applies one message of the stream to `rows` (and `counters`); returns the id it changed, null
 * for a message that is not a request's (or does not parse: it is skipped, never thrown on).
 */
export function apply(rows: Map<string, StreamRow>, counters: Record<string, number>, stream: string, m: { subject: string; seq: number; data: Uint8Array }): string | null {
  const rest = m.subject.slice(stream.length + 1);
  const dot = rest.indexOf('.');
  const kind = dot < 0 ? rest : rest.slice(0, dot);
  const id = rest.slice(dot + 1);
  const d = decode(m.data);
  if (!d) return null;
  const j = d.json;
  if (kind === 'counters') {
    for (const [k, v] of Object.entries(j)) if (k !== 'w' && typeof v === 'number') counters[k] = v;
    return null;
  }
  if (dot < 0 || !ID_RE.test(id)) return null;
  if (kind === 'req') {
    const createdAt = num(j.createdAt) ?? 0;
    const old = rows.get(id);
    rows.set(id, old ? { ...old, body: d.body } : {
      seq: m.seq, id, kind: j.kind === 'flow' ? 'flow' : 'function', target: str(j.target) ?? '', name: str(j.name) ?? '', fn: num(j.fn) ?? 0, caller: str(j.caller) ?? '-',
      headers: str(j.headers) ?? '[]', query: str(j.query) ?? '', callback: str(j.callback), state: 'pending', attempts: 0, next_at: createdAt, created_at: createdAt,
      finished_at: null, status: null, result_headers: null, error: null, cb_state: null, cb_attempts: 0, cb_next_at: null, body: d.body, result_body: null,
    });
    return id;
  }
  const row = rows.get(id);
  if (!row) return null;
  if (kind === 'state') {
    if (j.state === 'purged') {
      rows.delete(id);
      return id;
    }
    if (STATES.has(j.state)) row.state = j.state as State;
    row.attempts = num(j.attempts) ?? row.attempts;
    row.next_at = num(j.next_at) ?? row.next_at;
    row.created_at = num(j.created_at) ?? row.created_at;
    row.finished_at = num(j.finished_at);
    row.error = str(j.error);
    row.cb_state = CB_STATES.has(j.cb_state) ? (j.cb_state as CallbackState) : null;
    row.cb_attempts = num(j.cb_attempts) ?? 0;
    row.cb_next_at = num(j.cb_next_at);
    if (j.reset === true) {
      // `queue retry`: the request starts over, its old result is gone.
      row.status = null;
      row.result_headers = null;
      row.result_body = null;
    }
    return id;
  }
  if (kind === 'result') {
    if (STATES.has(j.state)) row.state = j.state as State;
    row.attempts = num(j.attempts) ?? row.attempts;
    row.finished_at = num(j.finished_at);
    row.status = num(j.status);
    row.result_headers = str(j.headers);
    row.error = str(j.error);
    row.cb_state = CB_STATES.has(j.cb_state) ? (j.cb_state as CallbackState) : null;
    row.cb_attempts = num(j.cb_attempts) ?? 0;
    row.cb_next_at = num(j.cb_next_at);
    row.result_body = d.body;
    return id;
  }
  return null;
}

/** The JSON of a state message: everything about a request that changes but its result. */
export function stateJson(row: Row, writer: string, reset = false): object {
  return {
    w: writer, state: row.state, attempts: row.attempts, next_at: row.next_at, created_at: row.created_at, finished_at: row.finished_at, error: row.error,
    cb_state: row.cb_state, cb_attempts: row.cb_attempts, cb_next_at: row.cb_next_at, ...(reset ? { reset: true } : {}),
  };
}

const FIX = 'start one with JetStream on (e.g. `nats-server -js -sd /var/lib/faasflow-nats -p 4222`) or fix async.store.nats.url';

/** Connects, reconnecting for ever once connected; a server that never answers is a clear error. */
export async function connectTo(servers: string[], name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers, name, timeout: 3000, maxReconnectAttempts: -1, reconnectTimeWait: 500, pingInterval: 5000, maxPingOut: 2 });
  } catch (err) {
    throw new Error(`async.store.nats: no NATS server answers at ${servers.join(', ')} (${(err as Error).message}): ${FIX}`, { cause: err });
  }
}

/** The JetStream manager, or a clear error when the server runs without JetStream. */
export async function manager(nc: NatsConnection, servers: string[]): Promise<JetStreamManager> {
  try {
    return await nc.jetstreamManager({ timeout: 5000 });
  } catch (err) {
    throw new Error(`async.store.nats: the NATS server at ${servers.join(', ')} has no JetStream (${(err as Error).message}): start nats-server with -js (and -sd DIR for where it keeps streams), or enable jetstream in its config`, { cause: err });
  }
}

/** Creates the instance's stream, or checks that the one there is its own and shaped as above. */
export async function ensureStream(jsm: JetStreamManager, stream: string, instance: string, replicas: number): Promise<void> {
  const want: Partial<StreamConfig> = {
    name: stream, description: `faasflow async queue of instance ${instance}`, subjects: [`${stream}.>`], storage: StorageType.File, retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old, max_msgs_per_subject: 1, num_replicas: replicas, duplicate_window: nanos(120_000), allow_rollup_hdrs: false, deny_delete: false, deny_purge: false,
  };
  let info;
  try {
    info = await jsm.streams.info(stream);
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw new Error(`async.store.nats: cannot read stream ${stream}: ${(err as Error).message}`, { cause: err });
    await jsm.streams.add(want);
    return;
  }
  const c = info.config;
  if (c.description !== want.description) throw new Error(`async.store.nats: stream ${stream} is not instance ${instance}'s queue (its description: ${JSON.stringify(c.description ?? '')}): give this instance its own async.store.nats.stream`);
  if (c.max_msgs_per_subject !== 1 || c.subjects.join() !== `${stream}.>` || c.retention !== RetentionPolicy.Limits || c.deny_delete || c.deny_purge) {
    throw new Error(`async.store.nats: stream ${stream} was changed by hand (subjects ${c.subjects.join()}, max_msgs_per_subject ${c.max_msgs_per_subject}): restore it or delete it (\`nats stream rm ${stream}\`, which drops its requests)`);
  }
}
