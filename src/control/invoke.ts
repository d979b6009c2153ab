// `faasflow invoke`: one POST to the gateway with node:http (not fetch: see the brief on undici).
import http from 'node:http';
import { FaasflowError } from '../common/errors.js';

export interface InvokeResponse {
  status: number;
  requestId: string;
  contentType: string;
  body: Buffer;
}

/** POSTs `body` to `path` (`/function/N` or `/flow/NAME`, with its query) with `headers`. */
export function invoke(host: string, port: number, path: string, body: Buffer, headers: Record<string, string>, timeoutMs: number): Promise<InvokeResponse> {
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target, port, method: 'POST', path, headers: { ...headers, 'content-length': body.length }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-request-id'] ?? ''), contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new FaasflowError('TIMEOUT', `no answer from ${target}:${port} within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(err instanceof FaasflowError ? err : new FaasflowError('INVOKE', `cannot reach the gateway at ${target}:${port}: ${err.message}`)));
    req.end(body);
  });
}
