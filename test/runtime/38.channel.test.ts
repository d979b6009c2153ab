// The message channel between the supervisor and a container (src/runtime/channel.ts) over a real
// socket pair: frames arrive whole however the bytes are split, a handler's source of many MiB
// goes through, and every violation (too large, empty, not UTF-8 JSON, too many a second, an end
// in the middle of a message) is reported once, with nothing read after it and no throw.
import net from 'node:net';
import t, { type Test } from 'tap';
import { sys } from '../../src/sys/binding.js';
import { Channel, encodeMessage, type ChannelOptions } from '../../src/runtime/channel.js';

interface Seen {
  messages: unknown[];
  bad: string[];
  ended: string[];
  reader: Channel;
  /** The other end, writing raw bytes. */
  writer: net.Socket;
  /** Resolves at the first report of a violation or an end. */
  reported: Promise<void>;
}

function pair(t: Test, o: Partial<ChannelOptions> = {}): Seen {
  const [a, b] = sys.socketPair();
  const writer = new net.Socket({ fd: a, readable: true, writable: true });
  writer.on('error', () => undefined);
  let report: () => void = () => undefined;
  const seen: Omit<Seen, 'reader'> = { messages: [], bad: [], ended: [], writer, reported: new Promise<void>((r) => (report = r)) };
  const reader = new Channel(new net.Socket({ fd: b, readable: true, writable: true }), {
    maxIn: 16 << 10,
    maxOut: 16 << 10,
    onMessage: (m) => seen.messages.push(m),
    onBad: (reason) => (seen.bad.push(reason), report()),
    onEnd: (reason) => (seen.ended.push(reason), report()),
    ...o,
  });
  t.teardown(() => {
    writer.destroy();
    reader.close();
  });
  return { ...seen, reader };
}

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

t.test('messages arrive whole, split anywhere or many in one write', async (t) => {
  const s = pair(t);
  const frames = Buffer.concat([1, 2, 3].map((n) => encodeMessage({ type: 'ready', n, text: 'é€😀' })));
  // One byte at a time, then all three frames in one write.
  for (const byte of frames) {
    s.writer.write(Buffer.from([byte]));
    await tick(1);
  }
  s.writer.write(frames);
  await tick(100);
  t.same(s.messages, [1, 2, 3, 1, 2, 3].map((n) => ({ type: 'ready', n, text: 'é€😀' })));
  t.same([s.bad, s.ended], [[], []], 'no violation');
});

t.test('a message of many MiB (a handler\'s source) goes through when the bound allows it', async (t) => {
  const s = pair(t, { maxIn: 64 << 20 });
  const source = 'x'.repeat(20 << 20);
  s.writer.write(encodeMessage({ type: 'handler', source }));
  for (let i = 0; i < 500 && s.messages.length === 0; i++) await tick();
  t.equal((s.messages[0] as { source: string } | undefined)?.source.length, source.length, '20 MiB intact');
});

t.test('a send over the sender\'s own bound is refused before anything is written', async (t) => {
  const s = pair(t);
  t.throws(() => s.reader.send({ big: 'x'.repeat(20 << 10) }), { name: 'RangeError', message: /over the channel's bound of 16384/ });
});

const violations: [string, (s: Seen) => void, RegExp][] = [
  ['a length over the bound', (s) => s.writer.write(Buffer.from([0x80, 0, 0, 0, 1, 2, 3])), /^a message of 2147483648 bytes \(the bound is 16384\)$/],
  ['an empty message', (s) => s.writer.write(Buffer.alloc(4)), /^an empty message$/],
  ['bytes that are not UTF-8', (s) => s.writer.write(Buffer.from([0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef])), /^a message of 4 bytes that is not UTF-8 JSON$/],
  ['text that is not JSON', (s) => s.writer.write(Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('{"a":')])), /not UTF-8 JSON$/],
  ['more than the messages a second', (s) => s.writer.write(Buffer.concat(Array.from({ length: 17 }, () => encodeMessage({})))), /^more than 16 messages in a second$/],
];

for (const [what, send, reason] of violations) {
  t.test(`${what}: reported once, nothing read after it`, async (t) => {
    const s = pair(t, { perSecond: 16 });
    send(s);
    // A valid message right behind it must not be taken.
    s.writer.write(encodeMessage({ after: true }));
    await s.reported;
    await tick(100);
    t.same(s.bad.length, 1);
    t.match(s.bad[0], reason);
    t.same(s.ended, [], 'no end reported after it');
    t.notOk(s.messages.some((m) => (m as { after?: boolean }).after), 'the message behind it was not read');
    t.ok(s.reader.closed && s.reader.socket.destroyed, 'the channel is closed');
  });
}

t.test('the other end closing is an end, in the middle of a message said so', async (t) => {
  const clean = pair(t);
  clean.writer.end(encodeMessage({ last: true }));
  await clean.reported;
  t.same(clean.messages, [{ last: true }]);
  t.same(clean.ended, ['it closed its channel']);
  const cut = pair(t);
  cut.writer.end(encodeMessage({ last: true }).subarray(0, 6));
  await cut.reported;
  t.same(cut.ended, ['it closed its channel in the middle of a message']);
  t.same(cut.bad, []);
});
