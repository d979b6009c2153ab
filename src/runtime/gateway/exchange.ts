// One request's life in the gateway, from its first body byte to its reply written. One object per
// request, holding everything the gateway needs about it; the listeners on its request and
// response are shared functions that find it through the symbol below, so the request path makes
// no closures of its own (they outlive young-generation collections while the request is in
// flight, and copying them is most of what the gateway's GC costs).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Frame } from '../../shm/frame.js';
import type { Descriptor, PacketPool } from '../../shm/pool.js';
import type { ContainerReplica } from '../proxy/links.js';

/** Where a request's and a response's shared listeners find their Exchange. */
export const EXCHANGE = Symbol('faasflow.exchange');

export type WithExchange<T> = T & { [EXCHANGE]?: Exchange };

export interface Exchange {
  id: number;
  fn: number;
  req: WithExchange<IncomingMessage>;
  res: WithExchange<ServerResponse>;
  /** While the body arrives: the packet it goes into (null once submitted or given up), its view, how much is in. */
  body: Descriptor | null;
  view: Uint8Array;
  written: number;
  /** Content-Length, or -1 (chunked). */
  known: number;
  meta: string;
  metaLength: number;
  /** The pool of the function's domain: every packet of this request is in it. */
  pool: PacketPool;
  desc: Descriptor;
  metaDesc: Descriptor | undefined;
  frame: Frame | undefined;
  t0: number;
  tSent: number;
  /** performance.now() when the reply descriptor arrived. */
  tReply: number;
  replica: ContainerReplica | undefined;
  /** performance.now() past which the gateway stops waiting for the container. */
  deadline: number;
  /** The reply being written to the client, freed when the response closes. */
  reply: Frame | undefined;
  replyStatus: number;
  /** The client has its answer (or is gone): a late reply is only freed. */
  answered: boolean;
  /** Counted in the function's stats (once, whatever happens after). */
  counted: boolean;
  /** The container kept the request's packets (its handler outlived the timeout): not ours to free. */
  kept: boolean;
  bytesIn: number;
  /** The intake that took it (its listeners reach it through here). */
  intake: {
    chunk(p: Exchange, chunk: Buffer): void;
    complete(p: Exchange): void;
    giveUp(p: Exchange): void;
    closed(p: Exchange): void;
  };
}
