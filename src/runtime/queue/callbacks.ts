// POSTs each finished request's result to the X-Callback-Url its client gave, at least once:
// the callback is due in the store until an answer in 2xx says it arrived; a refused connection, a
// timeout or another status is tried again with the queue's backoff, `callbackRetries` times, then
// marked failed (counted in faasflow_async_callback_failures_total).
import http from 'node:http';
import https from 'node:https';
import type { AsyncConfig } from '../../config/async.js';
import { backoffDelay } from '../../config/async.js';
import type { QueueStore, Row } from './store.js';
import { log } from '../child.js';

/** Callbacks in flight at once. */
const PARALLEL = 16;
/** Bytes of a callback server's answer read (and dropped): enough to see it answered. */
const MAX_ANSWER = 64 * 1024;

export class Callbacks {
  private readonly running = new Set<string>();
  private readonly agents = { http: new http.Agent({ keepAlive: true, maxSockets: PARALLEL }), https: new https.Agent({ keepAlive: true, maxSockets: PARALLEL }) };

  constructor(
    private readonly store: QueueStore,
    private readonly cfg: AsyncConfig,
  ) {}

  get inFlight(): number {
    return this.running.size;
  }

  pump(): void {
    const free = PARALLEL - this.running.size;
    if (free <= 0) return;
    for (const row of this.store.callbacksDue(Date.now(), free, this.running)) this.post(row);
  }

  private post(row: Row & { result_body: Buffer | null }): void {
    this.running.add(row.id);
    let settled = false;
    const done = (ok: boolean, why: string) => {
      if (settled) return;
      settled = true;
      this.running.delete(row.id);
      const attempts = row.cb_attempts + 1;
      if (ok) this.store.callbackOutcome(row.id, 'done', attempts, null);
      else {
        this.store.bump('callback_failures');
        const failed = attempts > this.cfg.callbackRetries;
        if (failed) log('warn', `callback for ${row.id} to ${row.callback} failed ${attempts} time(s), giving up: ${why}`);
        this.store.callbackOutcome(row.id, failed ? 'failed' : 'pending', attempts, failed ? null : Date.now() + backoffDelay(this.cfg, this.cfg, attempts));
      }
      this.store.write(() => undefined, () => this.pump());
    };
    let url: URL;
    try {
      url = new URL(row.callback ?? '');
    } catch {
      return done(false, 'not a URL');
    }
    const resultHeaders = safeHeaders(row.result_headers);
    const body = row.result_body ?? Buffer.alloc(0);
    const headers: Record<string, string | number> = {
      'content-type': String(resultHeaders['content-type'] ?? 'application/octet-stream'),
      'content-length': body.length,
      'x-request-id': row.id,
      'x-function-status': row.status ?? 0,
      'x-async-state': row.state,
      'x-async-attempts': row.attempts,
      'x-function-name': row.name,
    };
    const lib = url.protocol === 'https:' ? https : http;
    let req: http.ClientRequest;
    try {
      // Node refuses a header value with control characters by throwing, here at once; the
      // content-type is the function's (hostile) choice, and one bad row must not stop the pump.
      req = lib.request(url, { method: 'POST', headers, agent: url.protocol === 'https:' ? this.agents.https : this.agents.http, timeout: this.cfg.callbackTimeoutMs }, (res) => {
      let read = 0;
      res.on('data', (c: Buffer) => {
        read += c.length;
        if (read > MAX_ANSWER) res.destroy();
      });
      res.on('end', () => done((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, `answered ${res.statusCode}`));
      res.on('error', (err) => done(false, err.message));
      res.on('close', () => done((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 && res.complete, `answered ${res.statusCode}`));
      });
    } catch (err) {
      return done(false, (err as Error).message);
    }
    req.on('timeout', () => req.destroy(new Error(`no answer within ${this.cfg.callbackTimeoutMs} ms`)));
    req.on('error', (err) => done(false, err.message));
    req.end(body);
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

function safeHeaders(json: string | null): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(json ?? '{}');
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
