// GET /healthz (readiness), /livez (liveness) and /metrics: on the public port, or, with
// gateway.admin, on an admin listener of their own (loopback by default), where no token is asked
// for and a scrape or a probe never queues behind function traffic. Every gateway accepts on the
// one admin socket the supervisor made. The public router reaches here only for URLs that name no
// function or flow, so moving these paths costs the request path nothing.
import http from 'node:http';
import type { ClientResponse } from '../http1/types.js';
import { sendError } from './errors.js';
import { log } from '../child.js';

export interface AdminAnswers {
  /** The readiness document (readiness.ts); `ok: false` (not ready, draining) answers 503 so load balancers stop routing here. */
  health(): { ok: boolean; body: Record<string, unknown> };
  /** The liveness document: always 200 while the gateway answers at all. */
  live(): Record<string, unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** With gateway.admin: where these paths are served ("http://127.0.0.1:9090"); the public port answers 404 for them. */
  adminAt?: string;
}

const PATHS = ['/healthz', '/livez', '/metrics'];

function pathOf(url: string): string | undefined {
  return PATHS.find((p) => url === p || url.startsWith(`${p}?`));
}

/**
 * Answers a GET of an admin path and says true, or says false (not one of them). `onAdmin`: the
 * request came to the admin listener; otherwise to the public port, which with gateway.admin set
 * answers 404 naming where they went.
 */
export function answerAdmin(a: AdminAnswers, url: string, res: ClientResponse, onAdmin: boolean): boolean {
  const p = pathOf(url);
  if (p === undefined) return false;
  if (a.adminAt !== undefined && !onAdmin) {
    sendError(res, 404, `${p} is served on the admin listener (gateway.admin), ${a.adminAt}${p}, not on this port`);
    return true;
  }
  if (p === '/metrics') {
    a.metrics().then(
      (m) => {
        res.writeHead(200, { 'content-type': m.contentType, 'content-length': Buffer.byteLength(m.body) });
        res.end(m.body);
      },
      (err: unknown) => sendError(res, 500, `metrics failed: ${String(err)}`),
    );
    return true;
  }
  const h = p === '/healthz' ? a.health() : { ok: true, body: a.live() };
  const body = JSON.stringify(h.body);
  res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return true;
}

/** What a probe or a scrape may take: these requests have no body and answer at once. */
const ADMIN_TIMEOUT_MS = 10_000;

/** The admin listener's server (Node's parser: a probe every few seconds needs nothing faster). */
export function createAdminServer(a: AdminAnswers): http.Server {
  const server = http.createServer({ requestTimeout: ADMIN_TIMEOUT_MS, headersTimeout: ADMIN_TIMEOUT_MS, keepAliveTimeout: 65_000 }, (req, res) => {
    try {
      req.resume();
      const url = req.url ?? '/';
      if (req.method === 'GET' && answerAdmin(a, url, res, true)) return;
      sendError(res, 404, `no route for ${req.method} ${url.slice(0, 100)} on the admin listener: it serves GET /healthz, /livez and /metrics`);
    } catch (err) {
      log('error', `admin request failed: ${String(err instanceof Error ? err.stack : err)}`);
      sendError(res, 500, 'internal gateway error');
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}
