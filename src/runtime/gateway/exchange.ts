// One request's life in the gateway, from its first body byte to its reply written. One object per
// request, holding everything the gateway needs about it; the listeners on its request and
// response are shared functions that find it through the symbol below, so the request path makes
// no closures of its own (they outlive young-generation collections while the request is in
// flight, and copying them is most of what the gateway's GC costs).
import { ATTACHED, type ClientRequest, type ClientResponse } from '../http1/types.js';
import type { Frame } from '../../shm/frame.js';
import type { Descriptor, PacketPool } from '../../shm/pool.js';
import type { ContainerReplica } from '../proxy/links.js';
import type { ParsedReply } from './reply.js';
import type { FlowCall } from '../../config/types.js';

/** A packet this gateway owns, in some domain's pool, and how many still use it. */
export interface Carrier {
  pool: PacketPool;
  desc: Descriptor;
  length: number;
  users: number;
}

/** A step exchange's part in its flow: which call, which branch, and the packets it reads. */
export interface StepRef {
  call: FlowCall;
  branch: number | undefined;
  reads: Carrier[];
}

/** Where a request's and a response's shared listeners find their Exchange. */
export const EXCHANGE: typeof ATTACHED = ATTACHED;

export type WithExchange<T> = T & { [EXCHANGE]?: Exchange };

/**
 * Who gets an exchange's answer when it is not an HTTP client: a flow that goes on with the next
 * step, or a handler that called ctx.invoke().
 */
export interface Sink {
  /** The reply arrived; its body packet is the sink's from now on. */
  replied(p: Exchange, r: ParsedReply): void;
  /** The exchange failed (the container's status, a timeout, its death). */
  failed(p: Exchange, status: number, message: string): void;
  /** The gateway is done with it: no container reads its packets any more. */
  released(p: Exchange): void;
}

/** A request taken, before it has its packets (it may wait for them): what it needs once it has them. */
export interface Taken {
  req: ClientRequest;
  res: ClientResponse;
  fn: number;
  id: number;
  flow: string | undefined;
  known: number;
  meta: string | Uint8Array;
  metaLength: number;
  pool: PacketPool;
  t0: number;
}

export interface Exchange {
  id: number;
  fn: number;
  /** The HTTP request and response (none for a flow step or an invoke: see `sink`). */
  req: WithExchange<ClientRequest> | undefined;
  res: WithExchange<ClientResponse> | undefined;
  sink: Sink | undefined;
  /** A request for a flow (its name): the intake hands it to the flow, not to a container. */
  flow?: string;
  /** A flow step: which call of the flow, and the packets it reads. */
  step?: StepRef;
  /** Its request packet belongs to the sink (a flow's current data), which frees it. */
  borrowed: boolean;
  /** Functions of the ctx.invoke() calls that led here, outermost first (none for a client's request). */
  chain?: number[];
  /** Calls its handler made with ctx.invoke() that are still running. */
  calls?: Set<Exchange>;
  /** Calls reading its request packet (lent by its handler); it is freed when the last is done. */
  lent?: number;
  /** Finished while lent: the last call to finish frees the packet. */
  lentDone?: boolean;
  /** While the body arrives: the packet it goes into (null once submitted or given up), its view, how much is in. */
  body: Descriptor | null;
  view: Uint8Array;
  written: number;
  /** Content-Length, or -1 (chunked). */
  known: number;
  /** Its metadata for the packet (meta.ts): a string, or the UTF-8 bytes a light request made at once. */
  meta: string | Uint8Array;
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
