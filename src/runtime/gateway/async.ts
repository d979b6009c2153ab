// POST /async-function/<id|name>, POST /async-flow/<name> and GET /async-result/<id>. An async
// request is answered 202 with its id only once it is in this gateway's journal (journal.ts), or,
// without one, once the queue process has committed it (queue-link.ts); the queue then runs it
// through this or another gateway (onRun below). Nothing here is on the path of POST /function:
// the router sends only "/async-" URLs this way.
import { randomUUID } from 'node:crypto';
import type { ClientRequest, ClientResponse } from '../http1/types.js';
import type { Gateway } from './gateway.js';
import { sendError } from './errors.js';
import { admit, type Auth } from './auth.js';
import { noteTarget, type AccessLog } from './access-log.js';
import { RETRY_AFTER } from './intake.js';
import { headerPairs, num, str, type WireFrame } from '../queue/wire.js';
import type { QueueLink } from './queue-link.js';
import type { JournalWriter } from './journal.js';
import { RunRequest, RunResponse } from './async-run.js';
import { MAX_ID, parseId, safeDecode } from './url.js';

const FUNCTION = '/async-function/';
const FLOW = '/async-flow/';
const RESULT = '/async-result/';
/** Header lines not kept with a request: the connection's own, and the caller's credentials. */
const HOP = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'expect', 'upgrade', 'te', 'trailer', 'authorization', 'proxy-authorization', 'x-request-id']);
const ID_RE = /^[0-9a-f-]{36}$/;

export interface AsyncHost {
  gw: Gateway;
  auth?: Auth;
  access?: AccessLog;
  isPublic(fn: number): boolean;
  /** Absent: the config has no `async`, and no queue runs. */
  queue?: QueueLink;
  /** This gateway's journal (journal.ts); absent where it could not be opened: then `queue.put`. */
  journal?: JournalWriter;
  /** The largest body a request may have (the largest packet class). */
  maxBody: number;
}

export function asyncRoute(h: AsyncHost, req: ClientRequest, res: ClientResponse, url: string): void {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const isResult = path.startsWith(RESULT);
  const isFunction = path.startsWith(FUNCTION);
  if (!isResult && !isFunction && !path.startsWith(FLOW)) {
    req.resume();
    return sendError(res, 404, `no route for ${req.method} ${url.slice(0, 100)}: POST /async-function/<id or name>, POST /async-flow/<name>, GET /async-result/<id>`);
  }
  const want = isResult ? 'GET' : 'POST';
  if (req.method !== want) {
    req.resume();
    return sendError(res, 405, `use ${want} for ${isResult ? '/async-result/<id>' : 'an async request'} (got ${req.method})`, undefined, { allow: want });
  }
  if (!h.queue) {
    req.resume();
    return sendError(res, 404, 'asynchronous invocation is off on this instance: add `async: {}` to faasflow.config.ts (README, "Asynchronous invocation")');
  }
  const name = safeDecode(path.slice((isResult ? RESULT : isFunction ? FUNCTION : FLOW).length).replace(/\/$/, ''));
  if (isResult) return result(h, h.queue, req, res, name);
  let target: { kind: 'function' | 'flow'; target: string; name: string; fn: number };
  if (isFunction) {
    const id = parseId(name);
    const fn = id < 0 ? h.gw.router.idOf(name) ?? -1 : id > MAX_ID ? -1 : id;
    const route = h.gw.router.route(fn);
    if (!route) {
      req.resume();
      return sendError(res, 404, `no function named '${name.slice(0, 64)}': call /async-function/<id> or /async-function/<name>`, { functions: h.gw.router.routes().map((r) => ({ id: r.id, name: r.name })) });
    }
    target = { kind: 'function', target: String(fn), name: route.name, fn };
  } else {
    const flow = h.gw.flows.get(name);
    if (!flow) {
      req.resume();
      return sendError(res, 404, `no flow named '${name.slice(0, 64)}': this instance has ${h.gw.flows.names().join(', ') || 'no flows'}`);
    }
    target = { kind: 'flow', target: flow.name, name: flow.name, fn: 0 };
  }
  const caller = admit(h.auth, req, res, target.kind === 'function' && h.isPublic(target.fn), () => h.gw.takeId());
  if (caller === undefined) return;
  if (h.access) noteTarget(res, target.kind, target.name, caller);
  const callback = header(req, 'x-callback-url');
  if (callback !== undefined && !isHttpUrl(callback)) {
    req.resume();
    return sendError(res, 400, `X-Callback-Url must be an absolute http:// or https:// URL (got '${callback.slice(0, 100)}')`);
  }
  const declared = req.contentLength ?? Number(req.headers['content-length'] ?? -1);
  if (declared > h.maxBody) {
    req.resume();
    res.shouldKeepAlive = false;
    return sendError(res, 413, `body of ${declared} bytes is larger than the largest packet (${h.maxBody} bytes)`, { limit: h.maxBody });
  }
  // A declared length gets its buffer now and each chunk is copied into it once (the parser's
  // chunks may be views of a buffer it reuses, so one copy is needed, but not a second to join them).
  const known = declared >= 0 ? Buffer.allocUnsafe(declared) : undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  if (req.contentLength === undefined && req.headers.expect) res.writeContinue();
  req.on('data', ((c: Buffer) => {
    if (over) return;
    if (size + c.length > (known ? known.length : h.maxBody)) {
      over = true;
      res.shouldKeepAlive = false;
      return sendError(res, 413, `body is larger than ${known ? `its Content-Length (${known.length} bytes)` : `the largest packet (${h.maxBody} bytes)`}`, { limit: h.maxBody });
    }
    if (known) c.copy(known, size);
    else chunks.push(Buffer.from(c));
    size += c.length;
  }) as (...args: never[]) => void);
  req.on('end', () => {
    if (over || res.destroyed) return;
    const id = randomUUID();
    const headers: [string, string][] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) headers.push([raw[i], raw[i + 1]]);
    const body = known ? known.subarray(0, size) : Buffer.concat(chunks, size);
    const json = { id, ...target, caller, headers, query, ...(callback !== undefined ? { callback } : {}), at: Date.now() };
    // The journal's write failed (a full disk): handed to the queue instead, with the same id (it
    // is stored once, should the journal's copy be read after all).
    const queue = h.queue!;
    (h.journal ? h.journal.append(json, body).catch(() => queue.put(json, body)) : queue.put(json, body)).then(
      () => {
        const text = JSON.stringify({ id, status: 'accepted', result: `${RESULT}${id}` });
        res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': id, location: `${RESULT}${id}` });
        res.end(text);
      },
      (err: Error) => sendError(res, 503, `the request was not accepted: ${err.message}; retry shortly`, undefined, RETRY_AFTER),
    );
  });
}

function result(h: AsyncHost, queue: QueueLink, req: ClientRequest, res: ClientResponse, id: string): void {
  req.resume();
  const caller = admit(h.auth, req, res, false, () => h.gw.takeId());
  if (caller === undefined) return;
  if (!ID_RE.test(id)) return sendError(res, 404, `'${id.slice(0, 64)}' is not an async request id (the id a 202 gave, in X-Request-Id)`);
  queue.result(id, caller).then((f) => {
    const j = f.json;
    if (j.found !== true) return sendError(res, 404, `no async request ${id}: unknown, or its result expired (async.keepResults)`);
    const meta = { 'x-request-id': id, 'x-async-state': String(j.state), 'x-async-attempts': String(num(j.attempts) ?? 0) };
    if (j.state === 'pending') {
      const text = JSON.stringify({ id, state: 'pending', attempts: j.attempts, ...(j.error ? { lastError: j.error } : {}) });
      res.writeHead(202, { ...meta, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      return res.end(text);
    }
    const stored = typeof j.headers === 'object' && j.headers ? (j.headers as Record<string, unknown>) : {};
    const ct = str(stored['content-type'], 256);
    const status = num(j.status) ?? 500;
    res.writeHead(status >= 100 && status <= 599 ? status : 500, { ...meta, ...(ct ? { 'content-type': ct } : {}), 'content-length': f.body.length });
    res.end(f.body);
  }, (err: Error) => sendError(res, 503, `the async queue is not reachable: ${err.message}; retry shortly`, undefined, RETRY_AFTER));
}

/** A run the queue hands this gateway: the stored request through the usual intake, its reply back. */
export function onRun(h: AsyncHost, f: WireFrame, answer: (json: object, body: Uint8Array) => void): void {
  const j = f.json;
  const id = str(j.id, 64) ?? '';
  const target = str(j.target, 256) ?? '';
  const query = str(j.query, 65536) ?? '';
  const raw: string[] = [];
  for (const [k, v] of headerPairs(j.headers)) raw.push(k, v);
  // The same id on every attempt, so a function can tell a retry from a new request.
  raw.push('X-Request-Id', id, 'X-Faasflow-Attempt', String(num(j.attempt) ?? 1));
  const kind = j.kind === 'flow' ? 'flow' : 'function';
  const req = new RunRequest(`/${kind}/${encodeURIComponent(target)}${query ? `?${query}` : ''}`, raw, f.body);
  const res = new RunResponse((c) => answer({ status: c.status, headers: c.headers }, c.body));
  h.access?.begin(req, res);
  if (kind === 'flow') {
    const flow = h.gw.flows.get(target);
    if (h.access) noteTarget(res, 'flow', target, str(j.caller, 256) ?? '-');
    if (!flow) return sendError(res, 404, `no flow named '${target.slice(0, 64)}' any more`);
    const first = flow.steps[0];
    return h.gw.handle(req, res, first.kind === 'call' ? first.call.functionId : first.branches[0].functionId, flow.name);
  }
  const fn = Number(target);
  if (h.access) noteTarget(res, 'function', h.gw.router.route(fn)?.name ?? target, str(j.caller, 256) ?? '-');
  if (!h.gw.router.route(fn)) return sendError(res, 404, `no function with id ${target} any more`);
  h.gw.handle(req, res, fn);
}

function header(req: ClientRequest, lower: string): string | undefined {
  if (req.header) return req.header(lower);
  const v = (req.headers as Record<string, string | string[] | undefined>)[lower];
  return Array.isArray(v) ? v[0] : v;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
