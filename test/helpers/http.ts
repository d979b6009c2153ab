// A real HTTP client for tests: node:http, keep-alive agent, whole bodies as Buffers.
import http from 'node:http';

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export function request(port: number, method: string, path: string, body?: Uint8Array | string, headers: http.OutgoingHttpHeaders = {}, opts: { agent?: http.Agent | false; onSocket?: () => void } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: opts.agent ?? agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.onSocket) req.once('socket', (s) => s.once('connect', opts.onSocket!));
    req.end(body);
  });
}

export const post = (port: number, path: string, body?: Uint8Array | string, headers?: http.OutgoingHttpHeaders) => request(port, 'POST', path, body, headers);

/** A POST on a connection of its own (no keep-alive), so each lands on a gateway the kernel picks; a failure is status 0. */
export function postFresh(port: number, path: string, body: string): Promise<{ status: number; body: string }> {
  return request(port, 'POST', path, body, {}, { agent: false }).then(
    (r) => ({ status: r.status, body: r.body.toString() }),
    (e: Error) => ({ status: 0, body: e.message }),
  );
}

export function json(r: HttpResult): Record<string, unknown> {
  return JSON.parse(r.body.toString()) as Record<string, unknown>;
}
