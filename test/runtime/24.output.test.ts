// The supervisor's reader of a child's stdout and stderr (src/runtime/supervisor/output.ts): lines
// of bounded length whatever the bytes and however they are split into chunks, made printable, and
// the token bucket the rate bounds are made of.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { Bucket, LineReader, cutTo, markCut, printable, readOutput, wholeCharacters } from '../../src/runtime/supervisor/output.js';

/** Feeds `input` to a reader of bound `max` in chunks cut at `cuts`, then ends it; the lines decoded, as [text, cut]. */
function read(max: number, input: Buffer | string, cuts: number[] = [], end = true): { lines: [string, number][]; pending: number } {
  const lines: [string, number][] = [];
  const r = new LineReader(max, (line, cut) => lines.push([line.toString('utf8'), cut]));
  const b = Buffer.isBuffer(input) ? input : Buffer.from(input);
  let at = 0;
  for (const c of [...cuts, b.length]) {
    r.push(b.subarray(at, c));
    at = c;
  }
  const pending = r.pending;
  if (end) r.end();
  return { lines, pending };
}

t.test('lines come out the same however the chunks split them', async (t) => {
  const input = 'one\ntwo\r\nthree\rfour\n\nfive\r\n\r\nsix';
  const whole = read(64, input).lines;
  t.same(whole, [['one', 0], ['two', 0], ['three', 0], ['four', 0], ['five', 0], ['six', 0]], 'LF, CRLF and CR end lines; empty lines are skipped; the last line without a newline at the end');
  for (let i = 0; i <= input.length; i++) {
    for (let j = i; j <= input.length; j += 3) t.same(read(64, input, [i, j]).lines, whole, `split at ${i} and ${j}`);
  }
  t.same(read(64, 'a\r', [], false).lines, [['a', 0]], 'a CR at the end of a chunk ends the line at once');
  t.same(read(64, 'a\r\nb\n', [2]).lines, [['a', 0], ['b', 0]], 'the LF of a CRLF split across chunks is not an empty line');
});

t.test('a line at the bound is whole; one byte over is cut, and the cut is counted', async (t) => {
  t.same(read(8, '12345678\nnext\n').lines, [['12345678', 0], ['next', 0]], 'exactly the bound: whole');
  t.same(read(8, '123456789\nnext\n').lines, [['12345678', 1], ['next', 0]], 'one byte over: 8 kept, 1 cut');
  t.same(read(8, '123456789\nnext\n', [3, 9]).lines, [['12345678', 1], ['next', 0]], 'the same across chunks');
  t.same(read(8, '12345678', [4]).lines, [['12345678', 0]], 'at the bound with no newline before the end');
  const long = `${'x'.repeat(100_000)}\nafter\n`;
  const cuts = Array.from({ length: 30 }, (_, i) => 1 + i * 3331);
  t.same(read(1000, long, cuts).lines, [['x'.repeat(1000), 99_000], ['after', 0]], 'a long line in many chunks: its first 1000 bytes, the other 99,000 counted');
});

t.test('never more than the bound held, whatever comes without a newline', async (t) => {
  const r = new LineReader(16 << 10, () => undefined);
  const mib = Buffer.alloc(1 << 20, 'y');
  for (let i = 0; i < 64; i++) r.push(mib);
  t.equal(r.pending, 16 << 10, '64 MiB without a newline: 16 KiB held');
  let got: [string, number] | undefined;
  const r2 = new LineReader(16 << 10, (line, cut) => (got = [line.toString('utf8'), cut]));
  for (let i = 0; i < 64; i++) r2.push(mib);
  r2.end();
  t.same(got && [got[0].length, got[1]], [16 << 10, (64 << 20) - (16 << 10)], 'at the end: the kept part and how much was dropped');
  t.same(read(8, 'ab').pending, 2, 'an unfinished short line is held');
  t.same(read(8, '').lines, [], 'nothing in, nothing out');
});

t.test('a cut never splits a UTF-8 character; invalid bytes and NULs are read, not trusted', async (t) => {
  // "é" is 2 bytes, "€" 3, "😀" 4: a bound inside one drops the whole character.
  t.same(read(4, 'abcé\n').lines, [['abc', 2]], 'é across the bound goes with the rest');
  t.same(read(5, 'ab€€\n').lines, [['ab€', 3]]);
  t.same(read(6, 'ab😀x\n').lines, [['ab😀', 1]]);
  t.same(read(5, 'ab😀x\n').lines, [['ab', 5]]);
  t.equal(wholeCharacters(Buffer.from([0x61, 0xe2, 0x82]), 3), 1, 'a 3-byte character missing its last byte is not whole');
  t.equal(wholeCharacters(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80]), 5), 5, 'stray continuation bytes are not a character to keep whole');
  const garbage = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0xc3, 0x0a, 0x1b, 0x5b, 0x32, 0x4a, 0x0a]);
  const lines = read(64, garbage).lines.map(([text]) => text);
  t.same(lines, ['\ufffd\ufffd\0A\ufffd', '\x1b[2J'], 'invalid UTF-8 becomes U+FFFD; NUL and ESC come through to printable()');
  t.same(lines.map(printable), ['\ufffd\ufffd\\x00A\ufffd', '\\x1b[2J'], 'printable() writes them as visible escapes');
});

t.test('printable() leaves ordinary text alone and escapes every control character', async (t) => {
  t.equal(printable('plain text\twith a tab, ünïcödé, 😀'), 'plain text\twith a tab, ünïcödé, 😀');
  t.equal(printable('a\nb\rc'), 'a\\nb\\rc', 'a newline from a JSON message stays on its line');
  t.equal(printable('\x7f\x9b31m\u0085'), '\\x7f\\x9b31m\\x85', 'DEL and the C1 controls (8-bit CSI) too');
  t.equal(printable('x\x01'.repeat(3)), 'x\\x01x\\x01x\\x01');
});

t.test('cutTo() keeps at most the bound in UTF-8 bytes; markCut() says what was dropped', async (t) => {
  t.same(cutTo('short', 100), { text: 'short', cut: 0 });
  t.same(cutTo('€€€€', 7), { text: '€€', cut: 6 }, 'on a character boundary');
  t.same(cutTo('x'.repeat(10), 10), { text: 'x'.repeat(10), cut: 0 });
  t.equal(markCut('kept', 123456), 'kept … [cut: 123456 bytes]');
  t.equal(markCut('whole', 0), 'whole');
});

t.test('the token bucket: a burst, then the rate; take() refuses, spend() goes into debt', async (t) => {
  const b = new Bucket(1000, 4000, 0);
  t.ok(b.take(4000, 0), 'the burst at once');
  t.notOk(b.take(1, 0), 'then nothing');
  t.notOk(b.take(600, 500), 'half a second: 500 tokens, not 600');
  t.ok(b.take(500, 500), '500 are there');
  t.ok(b.take(4000, 60_000), 'a long idle refills the burst, no more');
  t.notOk(b.take(1, 60_000));
  const r = new Bucket(1000, 2000, 0);
  t.equal(r.spend(1500, 0, 0), 0, 'within the burst: no wait');
  t.equal(r.spend(1500, 0, 0), 1000, '1000 in debt: a second to pay it');
  t.equal(r.spend(0, 500, 0), 1500, 'and half a second more for a margin of 500');
  t.equal(new Bucket(Infinity, Infinity).spend(1e12), 0, 'no rate: never a wait');
  t.ok(new Bucket(Infinity, 0).take(1e12), 'no rate: everything admitted');
});

t.test('readOutput() pauses a stream past its read rate and loses nothing by it', async (t) => {
  const stream = new PassThrough();
  const lines: string[] = [];
  readOutput(stream, { maxLine: 1024, readRate: 256 * 1024, readBurst: 64 * 1024 }, (line) => lines.push(line.toString('utf8')));
  // 512 KiB of numbered lines in 16 KiB chunks, all at once: four chunks are within the burst.
  const all = Array.from({ length: 512 * 16 }, (_, i) => `${String(i).padStart(5, '0')} ${'l'.repeat(57)}`);
  const bytes = Buffer.from(all.map((l) => `${l}\n`).join(''));
  for (let at = 0; at < bytes.length; at += 16 * 1024) stream.write(bytes.subarray(at, at + 16 * 1024));
  stream.end();
  await new Promise((r) => setImmediate(r));
  t.ok(stream.isPaused(), 'paused once past the burst');
  t.ok(lines.length < all.length, `not everything read yet (${lines.length} of ${all.length} lines)`);
  // About 2 s at 256 KiB/s; the wait is generous, the check is only that all of it arrives.
  for (let i = 0; i < 300 && lines.length < all.length; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(lines, all, 'every line, in order, once the budget allows');
});
