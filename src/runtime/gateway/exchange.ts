// One request's life in the gateway, from its body being in a packet to its reply written. One
// object per request, holding everything the gateway needs about it, so the request path makes
// no other per-request objects than the ones Node's HTTP server makes.
import type { ServerResponse } from 'node:http';
import type { Frame } from '../../shm/frame.js';
import type { Descriptor, PacketPool } from '../../shm/pool.js';
import type { ContainerReplica } from '../proxy/links.js';

export interface Exchange {
  id: number;
  fn: number;
  res: ServerResponse;
  /** The pool of the function's domain: every packet of this request is in it. */
  pool: PacketPool;
  desc: Descriptor;
  metaDesc: Descriptor | undefined;
  frame: Frame;
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
}
