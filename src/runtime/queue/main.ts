// The async queue process (started by the supervisor when the config uses `async`): owns the
// store (SQLite in the state directory, or a NATS JetStream stream: async.store), reads the
// requests the gateways accepted from their journals (journal-ingest.ts; or, from a gateway without
// one, takes them over its socket and acknowledges each once committed), runs them through the
// gateways with retries, POSTs results to callbacks, expires old results. Trusted, like a gateway:
// it talks only to the supervisor and the gateways, never to a container.
import fs from 'node:fs';
import type { ResolvedConfig } from '../../config/types.js';
import { ENV, EXIT_PERMANENT } from '../../common/env.js';
import { instanceFiles } from '../../common/paths.js';
import { stateDirFor, stateFiles } from '../../common/state-dir.js';
import { log, onShutdown, ownProcessGroup, reportFailed, reportReady, requireEnv, send } from '../child.js';
import { openStore } from './open-store.js';
import { SqliteStore } from './sqlite-store.js';
import { Dispatcher } from './dispatch.js';
import { Callbacks } from './callbacks.js';
import { ack, serveGateways, type GatewayConn } from './gateways.js';
import { GET_RESULT, GET_STATS, INGEST, JOURNAL, PUT, RAN, RESULT, STATS, num, str, type WireFrame } from './wire.js';
import { JournalIngest, requestOf } from './journal-ingest.js';
import { parseJournalName } from './journal-format.js';
import { queueStats } from './stats.js';

const TICK_MS = 200;
const EXPIRE_MS = 60_000;
/** The largest body a PUT may carry: the largest packet class (the gateway checks it first). */
function maxBody(cfg: ResolvedConfig): number {
  return Math.max(...cfg.segment.classes.map((c) => c.size));
}

async function main(): Promise<void> {
  ownProcessGroup();
  const cfg = JSON.parse(fs.readFileSync(requireEnv(ENV.config), 'utf8')) as ResolvedConfig;
  const a = cfg.async;
  if (!a) throw Object.assign(new Error('the config has no `async`: the queue process has nothing to do'), { permanent: true });
  const stateDir = stateDirFor(cfg.instance);
  const dbFile = stateFiles(stateDir).queue;
  const store = await openStore(a, cfg.instance, stateDir, dbFile, log);
  const longest = Math.max(30_000, ...cfg.functions.map((f) => f.timeoutMs), ...cfg.flows.map((f) => f.timeoutMs ?? 0));
  const callbacks = new Callbacks(store, a);
  const dispatcher = new Dispatcher(store, a, longest + 15_000, (cb) => cb && store.write(() => undefined, () => callbacks.pump()));
  const startedAt = Date.now();
  const journals = new JournalIngest(stateFiles(stateDir).journal, store, maxBody(cfg), log, () => dispatcher.pump());
  // What the gateways journaled while no queue ran is in the store before the first run.
  while (journals.read());
  await new Promise<void>((resolve) => store.barrier((err) => resolve(err && log('error', `committing the journals read at start failed: ${err.message}`))));

  /** Reads every journal in and runs `done` once what it read is committed. */
  const catchUp = (done: (err?: Error) => void) => {
    while (journals.read());
    store.write(() => undefined, done);
  };
  const frame = (c: GatewayConn, f: WireFrame) => {
    if (f.type === PUT) return put(c, f);
    if (f.type === RAN) return dispatcher.ran(c, f.seq, { status: num(f.json.status) ?? 0, headers: typeof f.json.headers === 'object' && f.json.headers ? f.json.headers as Record<string, unknown> : {}, body: f.body });
    if (f.type === GET_RESULT) return void result(c, f).catch((err: Error) => c.send(RESULT, f.seq, { found: false, error: err.message }));
    if (f.type === JOURNAL) {
      const file = str(f.json.file, 128);
      if (file !== undefined && parseJournalName(file)) journals.soon(file);
      return;
    }
    // What is journaled now is in the store when the CLI is answered, so a purge that follows it
    // reaches every request accepted before it (and none accepted after).
    if (f.type === INGEST) return catchUp((err) => ack(c, f.seq, err));
    if (f.type === GET_STATS) return c.send(STATS, f.seq, queueStats(store, dispatcher, callbacks, startedAt));
    log('warn', `gateway connection ${c.id} sent a frame of unknown type ${f.type}: ignored`);
  };
  let syncLogged = false;
  /** A request handed over on the socket (a gateway without a journal, the supervisor's schedules). */
  const put = (c: GatewayConn, f: WireFrame) => {
    const r = requestOf(f.json, f.body, Date.now());
    if (!r || dispatcher.stopping) return ack(c, f.seq, new Error(dispatcher.stopping ? 'the queue is stopping' : 'malformed request'));
    store.put(r, (err) => {
      ack(c, f.seq, err);
      if (!err) {
        // Once: what SQLite's synchronous pragma read, on the queue's own connection, as the first
        // accepted request committed (async.durability made visible; a test reads this line).
        if (store instanceof SqliteStore && !syncLogged) {
          syncLogged = true;
          log('info', `first accepted request committed with PRAGMA synchronous = ${store.acceptSynchronous ?? '?'} (async.durability ${a.durability})`);
        }
        dispatcher.pump();
      }
    });
  };
  const result = async (c: GatewayConn, f: WireFrame) => {
    const id = str(f.json.id, 64) ?? '';
    let row = await store.result(id);
    // A result asked for right after its 202 may be in a journal not read yet: not found, every
    // journal is read and committed, then asked again, so an accepted request is never a 404. (Only
    // then: polling a known id reads no journal.)
    if (!row) {
      await new Promise<void>((resolve) => catchUp(() => resolve()));
      row = await store.result(id);
    }
    // A result is its caller's: with gateway.auth on, another token's holder learns nothing of it.
    if (!row || row.caller !== (str(f.json.caller, 256) ?? '-')) return c.send(RESULT, f.seq, { found: false });
    c.send(RESULT, f.seq, {
      found: true, id: row.id, state: row.state, attempts: row.attempts, status: row.status, headers: row.result_headers ? JSON.parse(row.result_headers) as unknown : {},
      error: row.error, createdAt: row.created_at, finishedAt: row.finished_at, callback: row.cb_state,
    }, row.result_body ?? undefined);
  };

  const files = instanceFiles(cfg.runtimeDir);
  const token = fs.readFileSync(files.token, 'utf8').trim();
  const server = await serveGateways(files.queueSocket, maxBody(cfg), token, { frame, gone: (c) => dispatcher.gone(c), joined: (c) => dispatcher.joined(c) });
  const depth = store.depth();
  log('info', `queue ready: ${store.where}; ${depth.pending} pending, ${depth.dead} dead letter(s)`);
  reportReady();

  const tick = setInterval(() => {
    if (journals.read()) journals.soon();
    dispatcher.sweep();
    dispatcher.pump();
    callbacks.pump();
    send({ type: 'queue-stats', pid: process.pid, stats: queueStats(store, dispatcher, callbacks, startedAt) });
  }, TICK_MS);
  const expire = setInterval(() => {
    const n = store.expire(Date.now(), a.keepResultsMs);
    if (n) log('info', `expired ${n} finished result(s) older than async.keepResults`);
  }, EXPIRE_MS);

  onShutdown(async (reason) => {
    log('info', `queue stopping (${reason}): no new runs; ${dispatcher.inFlight} in flight finish first`);
    dispatcher.stopping = true;
    // Runs in flight get their answers (their gateways drain them); whatever is not answered stays
    // pending in the store and runs at the next start.
    const until = Date.now() + longest + 3000;
    while ((dispatcher.inFlight > 0 || callbacks.inFlight > 0) && Date.now() < until && dispatcher.gateways > 0) await new Promise((r) => setTimeout(r, 50));
    clearInterval(tick);
    clearInterval(expire);
    server.close();
    callbacks.close();
    // Accepted requests still only in a journal are stored (they run at the next start).
    while (journals.read());
    journals.close();
    await store.close();
  }, longest + 10_000);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  log('error', message);
  reportFailed(message);
  setTimeout(() => process.exit((err as { permanent?: boolean }).permanent ? EXIT_PERMANENT : 1), 50);
});
