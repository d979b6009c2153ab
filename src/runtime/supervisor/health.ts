// The last startup step: the gateway answers GET /healthz over real HTTP. 200 means every function
// has a ready replica; 503 names those that have none (a crash loop given up on, a container still
// loading): the instance runs and serves the others, so `up` reports them rather than failing.
import http from 'node:http';

export interface HealthAnswer {
  ok: boolean;
  /** Functions routed. */
  routed: number;
  /** Each function without a ready replica, and why. */
  notReady: { id: number; name: string; reason: string }[];
}

/** How long `up` gives gateways to learn of replicas the supervisor already counts as ready. */
const SETTLE_MS = 10_000;

/**
 * GET /healthz until it is 200, or until whatever it says is not ready is what the supervisor
 * knows cannot be (`expected`: functions without a ready container). A container reports ready at
 * its first gateway's hello; with several gateways the one that answers may link it a moment later.
 */
export async function settledHealth(host: string, port: number, expected: () => Set<number>): Promise<HealthAnswer> {
  for (const end = Date.now() + SETTLE_MS; ; ) {
    const h = await healthz(host, port);
    const known = expected();
    if (h.ok || Date.now() > end || h.notReady.every((f) => known.has(f.id))) return h;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function healthz(host: string, port: number): Promise<HealthAnswer> {
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return new Promise((resolve, reject) => {
    const req = http.get({ host: target, port, path: '/healthz', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        const doc = parse(body);
        const notReady = doc?.notReady ?? [];
        if (res.statusCode === 200 || (res.statusCode === 503 && doc?.status === 'not ready')) resolve({ ok: res.statusCode === 200, routed: doc?.functions?.length ?? 0, notReady });
        else reject(new Error(`GET /healthz answered ${res.statusCode}: ${body.slice(0, 200)}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('GET /healthz timed out after 5 s')));
    req.on('error', reject);
  });
}

function parse(body: string): { status?: string; functions?: unknown[]; notReady?: { id: number; name: string; reason: string }[] } | undefined {
  try {
    return JSON.parse(body) as ReturnType<typeof parse>;
  } catch {
    return undefined;
  }
}
