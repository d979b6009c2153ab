// What the async tests share: a handler that records every run (request id and attempt) in a file,
// a callback server that records every callback, and a steady sender of async requests.
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Test } from 'tap';
import { FrameReader, type WireFrame } from '../../src/runtime/queue/wire.js';

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

/** The first file named `name` below `dir` (a log, a socket in the runtime directory). */
export function findFile(dir: string, name: string): string | undefined {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.name === name) return p;
    if (e.isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    }
  }
  return undefined;
}

/** Connects to the queue socket, sends `frames`, and resolves with what came back once the queue closed the connection or `ms` passed. */
export function talk(t: Test, sock: string, frames: Buffer[][], ms: number): Promise<{ got: WireFrame[]; closed: boolean }> {
  return new Promise((resolve) => {
    const got: WireFrame[] = [];
    const s = net.createConnection(sock);
    t.teardown(() => s.destroy());
    const reader = new FrameReader(64 << 20, (f) => got.push(f), () => undefined);
    s.on('connect', () => {
      for (const f of frames) for (const b of f) s.write(b);
    });
    s.on('data', (c: Buffer) => reader.push(c));
    s.on('error', () => undefined);
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ got, closed: false });
    }, ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ got, closed: true });
    });
  });
}
