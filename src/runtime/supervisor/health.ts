// The last startup step: the gateway answers GET /healthz over real HTTP.
import http from 'node:http';

export function healthz(host: string, port: number): Promise<string> {
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return new Promise((resolve, reject) => {
    const req = http.get({ host: target, port, path: '/healthz', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET /healthz answered ${res.statusCode}: ${body.slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error('GET /healthz timed out after 5 s')));
    req.on('error', reject);
  });
}
