// What a handler module sees. Users import these types from 'faasflow'.

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** An output packet allocated in the segment for a handler that writes its reply in place. */
export interface OutputPacket {
  /** The packet's bytes (capacity ≥ the size asked for): write the reply here. */
  readonly bytes: Uint8Array;
  /** Marks how many bytes of `bytes` are the reply; return the OutputPacket itself. */
  end(length: number): OutputPacket;
}

export interface Context {
  readonly functionId: number;
  readonly requestId: number;
  /** Request headers, lower-case names (as Node's http module gives them). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly contentType: string | undefined;
  /** Parsed query string of the request URL. */
  readonly query: URLSearchParams;
  readonly log: Logger;
  /**
   * Aborted when the handler's timeout passes (the client has its 504 by then). A handler that
   * listens stops its work early; one that does not keeps its packets until it settles. On
   * shutdown, running handlers are left to finish within the grace period.
   */
  readonly signal: AbortSignal;
  /** Sets the reply's status code (default 200) . */
  status(code: number): void;
  /** Sets a reply header (e.g. content-type). */
  header(name: string, value: string): void;
  /**
   * Allocates the reply packet directly in shared memory, so a handler that produces bytes can
   * write them in place instead of returning a buffer that is then copied.
   */
  output(size: number): OutputPacket;
}

export type HandlerResult = Uint8Array | string | OutputPacket | null | undefined | number | boolean | object;

export type Handler = (input: Uint8Array, ctx: Context) => HandlerResult | Promise<HandlerResult>;
