// The light HTTP/1.1 server: it takes the connections of a Node HTTP server and serves the plain
// requests itself (connection.ts), handing a connection to Node's own parser the moment one of
// its requests is anything else. Node's server stays the listener, so its options, its 'request'
// listener, its 'clientError' answers and its close() keep working for the connections it gets.
import type http from 'node:http';
import type net from 'node:net';
import { LightConnection, type ConnectionHost } from './connection.js';
import type { LightRequest, LightResponse } from './message.js';
import { IdTable } from '../id-table.js';
import { keepAliveLine } from './response-head.js';

export interface LightOptions {
  /** The whole request must arrive within this (0: no limit). */
  requestTimeoutMs: number;
  /** The head must arrive within this. */
  headersTimeoutMs: number;
  /** An idle connection closes after this. */
  keepAliveTimeoutMs: number;
  /** How often the limits are checked. */
  checkEveryMs: number;
  /** What a request that took too long is answered with (a whole response, ending the connection). */
  timeoutReply(): string;
}

export interface LightServer {
  /** From now on every response closes its connection. */
  drain(): void;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

type Listener = (this: http.Server, socket: net.Socket) => void;

export function serveLight(server: http.Server, onRequest: (req: LightRequest, res: LightResponse) => void, onError: (err: Error) => void, opts: LightOptions): LightServer {
  const nodeListeners = server.listeners('connection') as Listener[];
  // Not a Set: with clients that open a connection per request it would churn (see id-table.ts).
  const live = new IdTable<LightConnection>(64);
  let nextId = 0;
  let draining = false;
  const host: ConnectionHost = {
    onRequest,
    handOver(socket, rest) {
      if (rest && rest.length > 0) socket.unshift(rest);
      for (const l of nodeListeners) l.call(server, socket);
      socket.resume();
    },
    forget: (c) => live.delete(c.id),
    failed: onError,
    get draining() {
      return draining;
    },
    keepAlive: keepAliveLine(opts.keepAliveTimeoutMs),
  };
  server.removeAllListeners('connection');
  server.on('connection', (socket: net.Socket) => {
    const id = nextId;
    nextId = nextId === 0xfffffffe ? 0 : nextId + 1;
    live.set(id, new LightConnection(id, socket, host));
  });

  // One timer for all connections, like Node's connectionsCheckingInterval.
  const check = setInterval(() => {
    const now = performance.now();
    for (const c of live.snapshot()) {
      if (c.startedAt > 0) {
        const limit = c.inHead ? opts.headersTimeoutMs || opts.requestTimeoutMs : opts.requestTimeoutMs;
        if (limit > 0 && now - c.startedAt > limit) c.expire(opts.timeoutReply());
      } else if (c.idle && now - c.idleSince > opts.keepAliveTimeoutMs) c.destroy();
    }
  }, opts.checkEveryMs);
  check.unref();
  server.once('close', () => clearInterval(check));

  return {
    drain() {
      draining = true;
    },
    closeIdleConnections() {
      for (const c of live.snapshot()) if (c.idle) c.destroy();
    },
    closeAllConnections() {
      for (const c of live.snapshot()) c.destroy();
    },
  };
}
