import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sys } from '../../src/sys/binding.js';
import { Spinner, socketFd } from '../../src/runtime/spin.js';
import { FrameLink } from '../../src/runtime/link.js';
import { FrameType, NO_PACKET, ProcessStats, ProcessTable, type Frame } from '../../src/shm/index.js';
import { tempSegment } from '../helpers/segments.js';
import { startRuntime, until } from '../helpers/runtime.js';
import { post } from '../helpers/http.js';

/**
 * A peer in another process (a spinner blocks this one's event loop, so the answer must come from
 * elsewhere): it echoes what it reads after `delayMs`, or closes on "close".
 */
const PEER = `
const net = require('node:net');
let delay = 0;
const c = net.connect(process.argv[1], () => process.send('up'));
process.on('message', (m) => { delay = m; process.send('set'); });
c.on('data', (d) => {
  if (d.toString().includes('close')) return c.end();
  setTimeout(() => c.write(d), delay);
});
c.on('close', () => process.exit(0));
`;

async function pair(t: Test): Promise<{ socket: net.Socket; peer: ChildProcess; setDelay(ms: number): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-spin-'));
  const file = path.join(dir, 's.sock');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(file, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const peer = spawn(process.execPath, ['-e', PEER, file], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const gone = new Promise((r) => peer.once('exit', r));
  t.teardown(async () => {
    if (peer.exitCode === null && peer.signalCode === null) peer.kill('SIGKILL');
    await gone;
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await new Promise((r) => peer.once('message', r));
  const socket = await accepted;
  t.teardown(() => socket.destroy());
  const setDelay = (ms: number) =>
    new Promise<void>((r) => {
      peer.once('message', () => r());
      peer.send(ms);
    });
  return { socket, peer, setDelay };
}

t.test('spinRecv polls a real socket: data from another process, a bounded timeout, end of stream left for the event loop', async (t) => {
  const { socket, setDelay } = await pair(t);
  const fd = socketFd(socket);
  t.ok(fd >= 0, 'the Unix socket exposes its descriptor');
  const buf = Buffer.alloc(64);

  let t0 = performance.now();
  const cpu = new Float64Array(1);
  t.equal(sys.spinRecv(fd, buf, 3000, cpu), 0, 'nothing sent: 0');
  const waited = performance.now() - t0;
  t.ok(waited >= 3 && waited < 500, `gave up after the budget (${waited.toFixed(1)} ms for 3 ms)`);
  t.ok(cpu[0]! > 0 && cpu[0]! <= waited * 1000 + 50, `the CPU it used is reported, and is no more than its wall time (${cpu[0]!.toFixed(0)} µs)`);

  await setDelay(20);
  socket.write('ping');
  t0 = performance.now();
  // The event loop never runs in between: only polling can see the peer's answer.
  const n = sys.spinRecv(fd, buf, 2_000_000);
  const took = performance.now() - t0;
  t.equal(buf.subarray(0, n).toString(), 'ping', 'the answer, read while spinning');
  t.ok(took >= 15, `it came after the peer's 20 ms delay (${took.toFixed(1)} ms)`);

  const closed = new Promise((r) => socket.once('close', r));
  socket.write('close');
  let r = 0;
  for (let i = 0; i < 20 && r === 0; i++) r = sys.spinRecv(fd, buf, 100_000);
  t.equal(r, -1, 'end of stream: -1');
  await closed;
  t.pass('the event loop still saw the end of the stream and closed the socket');

  t.throws(() => sys.spinRecv('x' as unknown as number, buf, 1), TypeError, 'bad arguments throw, not crash');
});

const request = (id: number): Frame => ({
  type: FrameType.Request, flags: 0, index: id, generation: 1, length: 0, metaLength: 0,
  functionId: 1, requestId: id, status: 0, metaIndex: NO_PACKET, metaGeneration: 0,
});

t.test('a spinning link catches fast answers without the event loop, and parks once answers are slow', async (t) => {
  const { socket, setDelay } = await pair(t);
  const got: number[] = [];
  let waiter: (() => void) | undefined;
  const link = new FrameLink(socket, (f) => {
    got.push(f.requestId);
    waiter?.();
  }, () => undefined);
  let inFlight = 0;
  // The counts land where the runtime puts them: a process stats record in a real segment.
  const stats = new ProcessStats(tempSegment(t), 0);
  stats.reset(0);
  const counts = () => stats.polling;
  link.spinWith(new Spinner(50_000, () => inFlight > 0, stats));
  const roundTrip = async (id: number) => {
    const before = got.length;
    inFlight = 1;
    const answered = new Promise<void>((r) => (waiter = r));
    link.send(request(id));
    await answered;
    inFlight = 0;
    t.equal(got.length, before + 1);
  };

  await setDelay(1);
  for (let i = 1; i <= 20; i++) await roundTrip(i);
  t.ok(counts().answered >= 18, `answers within the budget are read by spinning (${counts().answered} answered, ${counts().timedOut} timed out)`);

  await setDelay(150);
  const before = counts();
  for (let i = 21; i <= 30; i++) await roundTrip(i);
  const slow = counts();
  t.ok(slow.timedOut - before.timedOut <= 3, `slow answers stop the spinning after a few misses (${slow.timedOut - before.timedOut})`);
  t.ok(slow.parked - before.parked >= 7, `and the link parks in epoll instead (${slow.parked - before.parked} of 10)`);

  await setDelay(1);
  // The estimate moves back down only through parked waits: fast answers turn spinning back on.
  const answeredBefore = counts().answered;
  for (let i = 31; i <= 60; i++) await roundTrip(i);
  t.ok(counts().answered - answeredBefore >= 15, `fast answers again: spinning again (${counts().answered - answeredBefore} of 30)`);
  t.same(got, Array.from({ length: 60 }, (_, i) => i + 1), 'every frame arrived once, in order');

  // Nothing to wait for: no spin, whatever the estimate.
  const idle = counts();
  link.send(request(61));
  await new Promise((r) => setImmediate(r));
  t.same(counts(), idle, 'with nothing in flight the link neither spins nor counts a wait');
  link.close();
});

t.test('requests round-trip with polling turned off (spinMicros: 0)', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }], { spinMicros: 0 });
  for (const body of ['a', 'hello', 'x'.repeat(5000)]) {
    const r = await post(rt.port, '/function/1', Buffer.from(body));
    t.equal(r.status, 200);
    t.equal(r.body.toString(), body);
  }
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
  const table = new ProcessTable(rt.runtime);
  for (const p of [rt.gateway, ...rt.containers]) {
    // A gateway's record is in the runtime segment at its table slot; a container's in its domain's.
    const e = table.entries().find((x) => x.pid === p.pid)!;
    const { answered, timedOut, parked } = new ProcessStats(e.role === 'container' ? rt.segOf(e.functionId) : rt.runtime, e.statsSlot).polling;
    t.same([answered, timedOut, parked], [0, 0, 0], `pid ${p.pid} never polled and counted no wait`);
  }
});
