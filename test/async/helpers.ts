// What the async tests share: a handler that records every run (request id and attempt) in a file,
// a callback server that records every callback, and a steady sender of async requests.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

/**
 * Appends "<x-request-id> <attempt>" to $REC_FILE (one write, O_APPEND: lines never interleave),
 * waits ?ms= milliseconds, fails with 500 while the attempt is at most ?fail=.
 */
export const RECORDER = `import fs from 'node:fs';
import type { Context } from 'faasflow';
export default async function (input: Uint8Array, ctx: Context): Promise<string> {
  const id = String(ctx.headers['x-request-id']);
  const attempt = Number(ctx.headers['x-faasflow-attempt']);
  fs.appendFileSync(process.env.REC_FILE!, id + ' ' + attempt + '\\n');
  const ms = Number(ctx.query.get('ms') ?? 0);
  if (ms) await new Promise((r) => setTimeout(r, ms));
  if (attempt <= Number(ctx.query.get('fail') ?? 0)) {
    ctx.status(500);
    return 'failing on attempt ' + attempt;
  }
  return 'ran ' + id + ': ' + new TextDecoder().decode(input);
}
`;

/** Each line of the record file: [id, attempt]. */
export function runs(file: string): [string, number][] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [id, a] = l.split(' ');
    return [id, Number(a)];
  });
}

export interface Callback {
  id: string;
  status: number;
  state: string;
  body: string;
}

/** A local server taking callbacks (answers 200), closed at teardown. `failFirst`: answer 503 to each id's first callback. */
export async function callbackServer(t: Test, o: { failFirst?: boolean } = {}): Promise<{ url: string; got: Callback[] }> {
  const got: Callback[] = [];
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = String(req.headers['x-request-id']);
      if (o.failFirst && !seen.has(id)) {
        seen.add(id);
        res.writeHead(503).end();
        return;
      }
      got.push({ id, status: Number(req.headers['x-function-status']), state: String(req.headers['x-async-state']), body: Buffer.concat(chunks).toString() });
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 500;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`, got };
}
