// URL routing of the gateway's HTTP server. Anything malformed gets a JSON error; nothing a
// client sends can throw out of here.
import http from 'node:http';
import type { Gateway } from './gateway.js';
import { sendError } from './errors.js';
import { log } from '../child.js';

const FUNCTION_PATH = /^\/function\/([^/?]*)\/?(?:\?|$)/;
/** Function ids are small non-negative integers (they index the stats table). */
const MAX_ID = 0x7fffffff;

export interface HttpExtras {
  health(): Record<string, unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export function createHttpServer(gw: Gateway, extras: HttpExtras): http.Server {
  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    try {
      route(gw, extras, req, res);
    } catch (err) {
      log('error', `gateway request failed: ${String(err instanceof Error ? err.stack : err)}`);
      sendError(res, 500, 'internal gateway error');
    }
  });
  // Malformed HTTP (bad Content-Length, garbage request line): a 400 and the connection closes.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') {
      const body = JSON.stringify({ error: `bad request: ${err.code ?? err.message}`, status: 400 });
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    } else socket.destroy();
  });
  return server;
}

function route(gw: Gateway, extras: HttpExtras, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  const m = FUNCTION_PATH.exec(url);
  if (m) {
    if (req.method !== 'POST') {
      req.resume();
      return sendError(res, 405, `use POST to call a function (got ${req.method})`, undefined, { allow: 'POST' });
    }
    const id = /^\d{1,10}$/.test(m[1]) ? Number(m[1]) : -1;
    if (id < 0 || id > MAX_ID) {
      req.resume();
      return sendError(res, 404, `'${decodeURIComponent(m[1]).slice(0, 64)}' is not a function id: use /function/<number>`);
    }
    return gw.handle(req, res, id);
  }
  if (req.method === 'GET' && (url === '/healthz' || url.startsWith('/healthz?'))) {
    const body = JSON.stringify(extras.health());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  if (req.method === 'GET' && (url === '/metrics' || url.startsWith('/metrics?'))) {
    extras.metrics().then(
      (m) => {
        res.writeHead(200, { 'content-type': m.contentType, 'content-length': Buffer.byteLength(m.body) });
        res.end(m.body);
      },
      (err: unknown) => sendError(res, 500, `metrics failed: ${String(err)}`),
    );
    return;
  }
  req.resume();
  sendError(res, 404, `no route for ${req.method} ${url.slice(0, 100)}: call functions with POST /function/<id>`);
}
