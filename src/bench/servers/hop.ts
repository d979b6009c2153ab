// One HTTP process of the reference setups. Without --forward it is the handler (the bare-HTTP
// floor, or the copy setup's container): it reads the whole body and answers its length, the same
// small reply the faasflow benchmark function gives. With --forward it is a hop of the copy setup
// (gateway or proxy): it reads the whole body, sends a full copy to the next process over HTTP on a
// Unix socket, reads the whole reply and relays it — store-and-forward, as a traditional FaaS
// gateway → proxy → container chain does.
//   node hop.js --listen tcp:<port>|unix:<path> [--forward <unix socket path>]
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string' }, forward: { type: 'string' } } });
const listen = values.listen ?? 'tcp:0';
const forward = values.forward;

// Idle keep-alive sockets must outlive the gaps between cells, or a request can race the close.
const IDLE_MS = 10 * 60_000;
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, timeout: IDLE_MS });

function readBody(stream: http.IncomingMessage, done: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let length = 0;
  stream.on('data', (c: Buffer) => {
    chunks.push(c);
    length += c.length;
  });
  stream.on('end', () => done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length)));
  stream.on('error', (err) => done(err, Buffer.alloc(0)));
}

function fail(res: http.ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/plain' }).end(message);
}

function handle(body: Buffer, res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain' }).end(String(body.length));
}

function relay(socketPath: string, body: Buffer, res: http.ServerResponse): void {
  const up = http.request(
    { socketPath, agent, method: 'POST', path: '/', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } },
    (upRes) => {
      readBody(upRes, (err, reply) => {
        if (err) return fail(res, 502, `upstream reply: ${err.message}`);
        res.writeHead(upRes.statusCode ?? 502, { 'content-type': upRes.headers['content-type'] ?? 'text/plain' }).end(reply);
      });
    },
  );
  up.on('error', (err) => fail(res, 502, `upstream: ${err.message}`));
  up.end(body);
}

const server = http.createServer((req, res) => {
  readBody(req, (err, body) => {
    if (err) return fail(res, 400, err.message);
    if (forward) relay(forward, body, res);
    else handle(body, res);
  });
});
server.keepAliveTimeout = IDLE_MS;

const [kind, where] = [listen.slice(0, listen.indexOf(':')), listen.slice(listen.indexOf(':') + 1)];
server.on('error', (err) => {
  process.send?.({ type: 'failed', message: err.message });
  process.exit(1);
});
const onListening = (): void => {
  const addr = server.address();
  process.send?.({ type: 'ready', port: typeof addr === 'object' && addr ? addr.port : 0, pid: process.pid });
};
if (kind === 'unix') server.listen(where, onListening);
else server.listen(Number(where), '127.0.0.1', onListening);

const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  agent.destroy();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The harness owns this process: if it dies, so do we.
process.on('disconnect', stop);
