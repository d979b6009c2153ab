// What the gateway uses of a request and of a response. Node's IncomingMessage and ServerResponse
// have all of it, and so do the light ones of this directory (message.ts): the gateway serves
// both without knowing which parser read the request.

/**
 * Where the user of a request or response keeps what it knows about it (the gateway: its
 * Exchange). The light ones have the slot from birth, so setting it adds no property to them.
 */
export const ATTACHED = Symbol('faasflow.attached');
/** Where the gateway's access log keeps its record of a response (the light ones have the slot too). */
export const NOTED = Symbol('faasflow.noted');

export interface ClientRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: { readonly 'content-length'?: string | undefined; readonly expect?: string | undefined };
  readonly rawHeaders: string[];
  /** Known without parsing a header: the Content-Length (-1: none). Node's requests do not have it. */
  readonly contentLength?: number;
  /** The request's packet metadata made at once (meta.ts, requestMeta); else it is made from rawHeaders. */
  metaBytes?(): Uint8Array;
  /** The first header named `lower` (lower case), read from the received bytes. Node's requests have `headers` instead. */
  header?(lower: string): string | undefined;
  /** The whole body has been received. */
  readonly complete: boolean;
  /** Discard the body: nobody reads it. */
  resume(): unknown;
  /**
   * Stops (true) and restarts (false) passing the body on, for a request that waits for packet
   * memory before its body is read: the light parser then reads no further ahead than it would
   * behind a response. Node's requests have none and need none: one without a 'data' listener is
   * not read past its stream's buffer.
   */
  holdBody?(held: boolean): void;
  on(event: 'data' | 'end' | 'close', listener: (...args: never[]) => void): unknown;
}

export interface ClientResponse {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  /** Set to false before the response starts: the connection closes after it. */
  shouldKeepAlive: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body?: string | Uint8Array): unknown;
  writeContinue(): void;
  /** Its connection (Node's: the socket; a light one's: its LightConnection), for what is kept per connection. */
  readonly socket?: object | null;
  destroy(): unknown;
  on(event: 'close', listener: () => void): unknown;
}
