// The journals the gateways append accepted async requests to (gateway/journal.ts) and the queue
// process reads into its store (journal-ingest.ts). One file per gateway process and generation,
// `gw-<pid>-<start time in ticks>-<gen>.log` in <state dir>/journal, laid out in zeros ahead of its
// records so that a reader stops at the first zero magic. A record:
//   u32 LE magic "FFJ1" · u32 LE JSON length · u32 LE body length · u32 LE CRC-32 of JSON+body · JSON · body
// The reader trusts nothing in a file: lengths are bounded before anything is allocated, a record
// whose magic or CRC is wrong is reported as `bad`, never thrown.
import zlib from 'node:zlib';
import { startTime } from '../../common/procs.js';

/** "FFJ1" as it reads little-endian from the file's bytes. */
export const MAGIC = Buffer.from('FFJ1').readUInt32LE(0);
export const HEAD = 16;
/** The JSON part of a record: headers, a query, a target (as a wire frame's). */
export const MAX_RECORD_JSON = 1 << 20;
const NAME_RE = /^gw-(\d{1,10})-(\d{1,20})-(\d{1,9})\.log$/;

/** CRC-32 (IEEE, as zlib's) of the given parts, in order: zlib's own, not a loop in JavaScript over every body byte on the gateway's request path. */
export function crc32(...parts: Uint8Array[]): number {
  return parts.reduce((c, p) => zlib.crc32(p, c), 0);
}

/** A record's bytes, as the pieces one writev takes. */
export function encodeRecord(json: object, body: Uint8Array): Buffer[] {
  const j = Buffer.from(JSON.stringify(json));
  const head = Buffer.allocUnsafe(HEAD);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(j.length, 4);
  head.writeUInt32LE(body.length, 8);
  head.writeUInt32LE(crc32(j, body), 12);
  return body.length ? [head, j, Buffer.from(body.buffer, body.byteOffset, body.length)] : [head, j];
}

export interface JournalRecord {
  /** Parsed JSON, or undefined when it does not parse as an object (skipped by the reader). */
  json: Record<string, unknown> | undefined;
  body: Buffer;
}

export interface Parsed {
  records: JournalRecord[];
  /** Bytes of `buf` the complete records take (the next read starts there). */
  used: number;
  /** More bytes the record at `used` needs before it can be parsed (0: none started there). */
  need: number;
  /** Why the bytes at `used` are not a record (a wrong magic, lengths past the bounds, a CRC). */
  bad?: string;
}

/** The complete records at the start of `buf`, up to the end of the records (a zero magic) or of `buf`. */
export function parseRecords(buf: Buffer, maxBody: number): Parsed {
  const records: JournalRecord[] = [];
  let at = 0;
  for (;;) {
    const left = buf.length - at;
    if (left < 4) return { records, used: at, need: left > 0 && buf.readUIntLE(at, left) !== 0 ? HEAD - left : 0 };
    const magic = buf.readUInt32LE(at);
    if (magic === 0) return { records, used: at, need: 0 };
    if (magic !== MAGIC) return { records, used: at, need: 0, bad: `a wrong magic 0x${magic.toString(16)}` };
    if (left < HEAD) return { records, used: at, need: HEAD - left };
    const jsonLength = buf.readUInt32LE(at + 4);
    const bodyLength = buf.readUInt32LE(at + 8);
    if (jsonLength > MAX_RECORD_JSON || bodyLength > maxBody) return { records, used: at, need: 0, bad: `a record of ${jsonLength} + ${bodyLength} bytes (at most ${MAX_RECORD_JSON} + ${maxBody})` };
    const size = HEAD + jsonLength + bodyLength;
    if (left < size) return { records, used: at, need: size - left };
    const j = buf.subarray(at + HEAD, at + HEAD + jsonLength);
    const body = buf.subarray(at + HEAD + jsonLength, at + size);
    if (crc32(j, body) !== buf.readUInt32LE(at + 12)) return { records, used: at, need: 0, bad: 'a CRC that does not match' };
    let json: Record<string, unknown> | undefined;
    try {
      const v = JSON.parse(j.toString('utf8')) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) json = v as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    records.push({ json, body: Buffer.from(body) });
    at += size;
  }
}

export interface JournalName {
  pid: number;
  start: string;
  gen: number;
}

export function parseJournalName(name: string): JournalName | undefined {
  const m = NAME_RE.exec(name);
  return m ? { pid: Number(m[1]), start: m[2], gen: Number(m[3]) } : undefined;
}

export function journalName(pid: number, start: string, gen: number): string {
  return `gw-${pid}-${start}-${gen}.log`;
}

/** A process's start time as a journal's name holds it (undefined: no such process). */
export function startTicks(pid: number): string | undefined {
  const start = startTime(pid);
  return start > 0 ? String(start) : undefined;
}

/** Whether the process that writes `name` still runs (a pid reused since has another start time). */
export function writerAlive(name: string): boolean {
  const n = parseJournalName(name);
  return n !== undefined && startTicks(n.pid) === n.start;
}
