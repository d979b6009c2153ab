// JSON error replies: every failure a client can see has a status and a message it can act on.
import type { ClientResponse } from '../http1/types.js';

export function sendError(res: ClientResponse, status: number, message: string, extra?: Record<string, unknown>, headers?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: message, status, ...extra });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** What the client is told when a container reply carries only a status (no packet). */
export function replyStatusMessage(status: number): string {
  switch (status) {
    case 503:
      return 'the shared-memory pool had no free packet for the reply: retry shortly, or raise the segment size';
    case 500:
      return 'the reply is larger than the largest packet class: raise the largest size class';
    default:
      return `container answered ${status} without a body`;
  }
}
