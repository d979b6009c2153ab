// What a handler module sees. Users import these types from 'faasflow'.

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Where bytes a handler sees live: its domain's segment, the packet's index and byte offset (as `faasflow shm inspect` shows them). */
export interface PacketRef {
  readonly segment: string;
  readonly index: number;
  readonly offset: number;
  readonly length: number;
}

/** An output packet allocated in the segment for a handler that writes its reply in place. */
export interface OutputPacket {
  /** The packet the bytes are in. */
  readonly packet: PacketRef;
  /** The packet's bytes (capacity ≥ the size asked for): write the reply here. */
  readonly bytes: Uint8Array;
  /** Marks how many bytes of `bytes` are the reply; return the OutputPacket itself. */
  end(length: number): OutputPacket;
}

/** Where a call made by a flow stands in it. */
export interface FlowContext {
  /** The flow's name (POST /flow/<name>). */
  readonly name: string;
  /** This step: its function's name. */
  readonly step: string;
  /** The flow request's id, the client's x-request-id: every step of one flow request shares it. */
  readonly requestId: number;
}

/** What ctx.invoke() resolves to: the called function's answer. */
export interface InvokeResult {
  status: number;
  /** Its content type when it is one of application/octet-stream, text/plain; charset=utf-8 or application/json. */
  contentType: string | undefined;
  /** A view of its reply in shared memory, valid until this request ends (then detached). */
  body: Uint8Array;
}

export interface Context {
  readonly functionId: number;
  /** This call's id (a flow's steps each have their own; ctx.flow.requestId is the flow's). */
  readonly requestId: number;
  /** Set when a flow made this call. */
  readonly flow: FlowContext | undefined;
  /**
   * Every input of this call: `input` first, then, for the step after a parallel group, the other
   * branches' outputs in config order (the first branch's is `input`). Views of shared memory
   * like `input`: read them during the call, do not keep them. In a parallel group, branches in
   * one domain read one packet: treat `input` as read-only there.
   */
  readonly inputs: readonly Uint8Array[];
  /** The packet each of `inputs` is in, in the same order: a flow hands them on rather than copying. */
  readonly packets: readonly PacketRef[];
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
  /**
   * Calls another function of this instance (by name or id) and resolves to its answer, a non-2xx
   * status included. No copy when `bytes` is this request's `input` (lent) or an `output()`'s
   * bytes (handed over: do not write to it after), nor for the answer inside one security domain;
   * one copy into another domain each way. Rejects (an Error with `.status`) when the call cannot
   * run: no such function (404), a call back into the chain of calls that led here or deeper than
   * 8 (508), more than 64 calls at once (429), the callee's timeout (504) or death (502), the
   * request ending first (499). The caller keeps its concurrency slot while it waits.
   */
  invoke(to: string | number, bytes: Uint8Array | string): Promise<InvokeResult>;
  /**
   * The value of secret `name` (one of the function's `secrets` in the config), as UTF-8 text.
   * The file is $FAASFLOW_SECRETS_DIR/<name>, readable by this function's domain only.
   */
  secret(name: string): string;
  /** Sets the reply's status code (default 200). */
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
