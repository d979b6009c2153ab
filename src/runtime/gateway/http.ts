// The gateway's HTTP server and its URL routing. Plain requests are read by the light parser
// (../http1), everything else by Node's; both feed the same routes. Anything malformed gets a JSON
// error; nothing a client sends can throw out of here.
import http from 'node:http';
import { serveLight, type LightServer } from '../http1/server.js';
import type { ClientRequest, ClientResponse } from '../http1/types.js';
import type { Gateway } from './gateway.js';
import { sendError } from './errors.js';
import { answerAdmin, type AdminAnswers } from './admin.js';
import { log } from '../child.js';
import { admit, type Auth } from './auth.js';
import { noteTarget, type AccessLog } from './access-log.js';
import { FN_REQUESTS } from '../../shm/constants.js';
import { UNKNOWN_FUNCTION_ROW } from '../../observe/access.js';
import { asyncRoute, type AsyncHost } from './async.js';
import { MAX_ID, parseId, safeDecode } from './url.js';

const FUNCTION_PREFIX = '/function/';
const FLOW_PREFIX = '/flow/';

/**
 * The <id> of "/function/<id>", "/function/<id>/" or either with a query, else null. By hand, not
 * a regular expression: this runs for every request, and a match array is an allocation.
 */
function functionSegment(url: string): string | null {
  if (!url.startsWith(FUNCTION_PREFIX)) return null;
  let end = FUNCTION_PREFIX.length;
  while (end < url.length && url.charCodeAt(end) !== 47 /* / */ && url.charCodeAt(end) !== 63 /* ? */) end++;
  let rest = end;
  if (rest < url.length && url.charCodeAt(rest) === 47) rest++;
  return rest === url.length || url.charCodeAt(rest) === 63 ? url.slice(FUNCTION_PREFIX.length, end) : null;
}


export interface HttpExtras extends AdminAnswers {
  /** Bearer tokens to check (gateway.auth); absent: every caller is let in. */
  auth?: Auth;
  /** Where finished requests are logged (gateway.accessLog); absent: nowhere. */
  access?: AccessLog;
  /** A function callable without a token (`public: true`). */
  isPublic(fn: number): boolean;
  /** /async-* (async.ts). */
  async: AsyncHost;
}

export interface GatewayHttp {
  readonly server: http.Server;
  /** Connections the light parser serves (Node's server counts only its own). */
  readonly light: LightServer;
}

/** The whole answer to a request that broke the rules, written to its socket before it closes. */
function closingReply(status: number, text: string, message: string): string {
  const body = JSON.stringify({ error: message, status });
  return `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
}

export function createHttpServer(gw: Gateway, extras: HttpExtras, requestTimeoutMs: number, parser: 'light' | 'node'): GatewayHttp {
  const onRequest = (req: ClientRequest, res: ClientResponse) => {
    try {
      extras.access?.begin(req, res);
      route(gw, extras, req, res);
    } catch (err) {
      log('error', `gateway request failed: ${String(err instanceof Error ? err.stack : err)}`);
      sendError(res, 500, 'internal gateway error');
    }
  };
  // requestTimeout bounds how long a client may take to send its whole request: a slow or stalled
  // upload would otherwise hold its packet for as long as it likes. Node checks it periodically.
  const limits = {
    keepAliveTimeout: 65_000,
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs || 60_000),
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(requestTimeoutMs / 4) || 1000)),
  };
  const server = http.createServer(limits, onRequest);
  const timedOut = closingReply(408, 'Request Timeout', `the request was not received within gateway.requestTimeout (${requestTimeoutMs} ms)`);
  // "Expect: 100-continue" is answered by the gateway itself once it knows it will take the body
  // (Node would send "100 Continue" first, even for a body it is about to refuse with 413).
  server.on('checkContinue', onRequest);
  // Malformed HTTP (bad Content-Length, garbage request line): a 400 and the connection closes.
  // A request not received in time: 408 (the packet its body was going into is freed on close).
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') {
      socket.end(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? timedOut
        : err.code === 'HPE_HEADER_OVERFLOW' ? closingReply(431, 'Request Header Fields Too Large', 'request headers are too large')
          : closingReply(400, 'Bad Request', `bad request: ${err.code ?? err.message}`));
    } else socket.destroy();
  });
  const light = parser === 'light'
    ? serveLight(server, onRequest, (err) => log('error', `gateway connection failed: ${String(err.stack ?? err)}`), {
      requestTimeoutMs: limits.requestTimeout,
      headersTimeoutMs: limits.headersTimeout,
      keepAliveTimeoutMs: limits.keepAliveTimeout,
      checkEveryMs: limits.connectionsCheckingInterval,
      timeoutReply: () => timedOut,
    })
    : { drain: () => undefined, closeIdleConnections: () => undefined, closeAllConnections: () => undefined };
  return { server, light };
}

/** A request for a function or a flow, as the URL names it (before anyone checks the caller). */
type Target = { kind: 'function'; seg: string; fn: number; name: string } | { kind: 'flow'; name: string };

function targetOf(gw: Gateway, url: string): Target | null {
  const seg = functionSegment(url);
  if (seg !== null) {
    // By id, or by name: a name is looked up in the routing table (a digit string is an id).
    const id = parseId(seg);
    const fn = id < 0 ? gw.router.idOf(safeDecode(seg)) ?? -1 : id > MAX_ID ? -1 : id;
    return { kind: 'function', seg, fn, name: gw.router.route(fn)?.name ?? safeDecode(seg) };
  }
  if (!url.startsWith(FLOW_PREFIX)) return null;
  const q = url.indexOf('?');
  return { kind: 'flow', name: safeDecode(url.slice(FLOW_PREFIX.length, q < 0 ? undefined : q).replace(/\/$/, '')) };
}

function route(gw: Gateway, extras: HttpExtras, req: ClientRequest, res: ClientResponse): void {
  const url = req.url ?? '/';
  const target = targetOf(gw, url);
  if (target !== null) {
    if (req.method !== 'POST') {
      req.resume();
      const rid = String(gw.takeId());
      return sendError(res, 405, `use POST to ${target.kind === 'function' ? 'call a function' : 'run a flow'} (got ${req.method})`, { requestId: Number(rid) }, { allow: 'POST', 'x-request-id': rid });
    }
    // The one check of who calls: before anything about the target is answered (an unknown
    // function's 404 lists the functions).
    const caller = admit(extras.auth, req, res, target.kind === 'function' && target.fn >= 0 && extras.isPublic(target.fn), () => gw.takeId());
    if (caller === undefined) return;
    if (extras.access) noteTarget(res, target.kind, target.name, caller);
    return target.kind === 'function' ? functionRoute(gw, req, res, target) : flowRoute(gw, req, res, target.name);
  }
  // /healthz, /livez, /metrics (or, with gateway.admin, where they went): never a function's URL.
  if (req.method === 'GET' && answerAdmin(extras, url, res, false)) return;
  if (url.startsWith('/async-')) return asyncRoute(extras.async, req, res, url);
  req.resume();
  sendError(res, 404, `no route for ${req.method} ${url.slice(0, 100)}: call functions with POST /function/<id or name>, flows with POST /flow/<name>`);
}

/** POST /function/<id or name>. */
function functionRoute(gw: Gateway, req: ClientRequest, res: ClientResponse, target: Target & { kind: 'function' }): void {
  // Counted for /metrics (faasflow_unknown_function_total): a client calling a function that is not there.
  if (gw.router.route(target.fn) === undefined) gw.stats.add(UNKNOWN_FUNCTION_ROW, FN_REQUESTS);
  if (target.fn < 0) {
    req.resume();
    const rid = String(gw.takeId());
    return sendError(res, 404, `no function named '${safeDecode(target.seg).slice(0, 64)}': call /function/<id> or /function/<name>`, { requestId: Number(rid), functions: gw.router.routes().map((r) => ({ id: r.id, name: r.name })) }, { 'x-request-id': rid });
  }
  gw.handle(req, res, target.fn);
}

/** POST /flow/<name>: the body is taken like a request for the flow's first function. */
function flowRoute(gw: Gateway, req: ClientRequest, res: ClientResponse, name: string): void {
  const flow = gw.flows.get(name);
  if (!flow) {
    req.resume();
    const rid = String(gw.takeId());
    const known = gw.flows.names();
    return sendError(res, 404, `no flow named '${name.slice(0, 64)}': ${known.length ? `this instance has ${known.join(', ')}` : 'this instance has no flows (faasflow.config.ts, flows)'}`, { requestId: Number(rid) }, { 'x-request-id': rid });
  }
  const first = flow.steps[0];
  gw.handle(req, res, first.kind === 'call' ? first.call.functionId : first.branches[0].functionId, flow.name);
}
