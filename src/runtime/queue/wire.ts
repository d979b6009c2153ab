// The frames between the gateways and the async queue process, on its Unix socket. Both ends are
// trusted processes, but a frame is still parsed as if it were not: lengths are checked against
// what arrived and against a bound before anything is allocated, JSON that does not parse or is not
// an object ends the connection (never the process), and a peer's half frame costs at most its bound.
//
// A connection is a gateway's only once its first frame, HELLO, has carried the instance's token.
//
// A frame: u32 LE length of the rest · u8 type · u32 LE sequence · u32 LE JSON length · JSON · body.

/** Gateway → queue. HELLO comes first on a connection: the instance's token, which no container can read. */
export const HELLO = 9;
export const PUT = 1;
export const GET_RESULT = 3;
export const GET_STATS = 5;
export const RAN = 7;
/** A gateway wrote to its journal `{file}` (gateway/journal.ts): read it soon. Not answered. */
export const JOURNAL = 10;
/** The CLI (`queue purge`, `queue ls`): read every journal into the store now; answered ACK once committed. */
export const INGEST = 11;
/** Queue → gateway. */
export const ACK = 2;
export const RESULT = 4;
export const STATS = 6;
export const RUN = 8;

const HEAD = 4 + 1 + 4 + 4;
/** JSON part of a frame: headers, a query, a target. */
export const MAX_JSON = 1 << 20;

export interface WireFrame {
  type: number;
  seq: number;
  json: Record<string, unknown>;
  body: Buffer;
}

export function encodeFrame(type: number, seq: number, json: object, body?: Uint8Array): Buffer[] {
  const j = Buffer.from(JSON.stringify(json));
  const head = Buffer.allocUnsafe(HEAD);
  const bodyLength = body ? body.length : 0;
  head.writeUInt32LE(HEAD - 4 + j.length + bodyLength, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32LE(seq >>> 0, 5);
  head.writeUInt32LE(j.length, 9);
  return body && body.length ? [head, j, Buffer.from(body.buffer, body.byteOffset, body.length)] : [head, j];
}

/**
 * Reassembles frames from a stream's chunks. `maxFrame` bounds one frame (its body included);
 * a violation is reported once through `bad` and nothing more is parsed.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private broken = false;

  constructor(
    private readonly maxFrame: number,
    private readonly onFrame: (f: WireFrame) => void,
    private readonly bad: (why: string) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    this.chunks.push(chunk);
    this.have += chunk.length;
    while (this.have >= 4 && !this.broken) {
      const first = this.chunks[0].length >= 4 ? this.chunks[0] : this.flatten();
      const length = first.readUInt32LE(0);
      if (length < HEAD - 4 || length > this.maxFrame + HEAD + MAX_JSON) return this.fail(`a frame of ${length} bytes (at most ${this.maxFrame + MAX_JSON} allowed)`);
      if (this.have < 4 + length) return;
      const all = this.chunks.length === 1 ? this.chunks[0] : this.flatten();
      const frame = all.subarray(0, 4 + length);
      const rest = all.subarray(4 + length);
      this.chunks = rest.length ? [rest] : [];
      this.have = rest.length;
      const parsed = this.parse(frame);
      if (parsed) this.onFrame(parsed);
    }
  }

  private flatten(): Buffer {
    const b = Buffer.concat(this.chunks, this.have);
    this.chunks = [b];
    return b;
  }

  private parse(frame: Buffer): WireFrame | undefined {
    const type = frame.readUInt8(4);
    const seq = frame.readUInt32LE(5);
    const jsonLength = frame.readUInt32LE(9);
    if (jsonLength > MAX_JSON || HEAD + jsonLength > frame.length) return this.fail(`a frame whose JSON (${jsonLength} bytes) does not fit it`);
    let json: unknown;
    try {
      json = JSON.parse(frame.toString('utf8', HEAD, HEAD + jsonLength));
    } catch {
      return this.fail('a frame whose JSON does not parse');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return this.fail('a frame whose JSON is not an object');
    // A copy: the chunk it came in may be large and is otherwise kept alive by the view.
    return { type, seq, json: json as Record<string, unknown>, body: Buffer.from(frame.subarray(HEAD + jsonLength)) };
  }

  private fail(why: string): undefined {
    this.broken = true;
    this.chunks = [];
    this.have = 0;
    this.bad(why);
    return undefined;
  }
}

/** Header lines as [name, value] pairs, each a string: anything else is dropped. */
export function headerPairs(v: unknown, max = 200): [string, string][] {
  if (!Array.isArray(v)) return [];
  const out: [string, string][] = [];
  for (const p of v.slice(0, max)) if (Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'string' && !/[\r\n]/.test(p[0] + p[1])) out.push([p[0], p[1]]);
  return out;
}

export function str(v: unknown, max = 4096): string | undefined {
  return typeof v === 'string' && v.length <= max ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
