// Frames sent during one event-loop turn leave in one write (up to a batch), over a real socket.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FrameLink } from '../../src/runtime/link.js';
import { FrameReader, FrameType, NO_PACKET, type Frame } from '../../src/shm/frame.js';

const frame = (requestId: number): Frame => ({ type: FrameType.Reply, flags: 0, index: requestId, generation: 1, length: 10, metaLength: 0, functionId: 1, requestId, status: 200, metaIndex: NO_PACKET, metaGeneration: 0 });

t.test('a burst of frames is coalesced into as few writes as the batch allows', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-link-'));
  const sock = path.join(dir, 's.sock');
  const received: number[] = [];
  const reader = new FrameReader();
  const server = net.createServer((s) => s.on('data', (c: Buffer) => reader.push(c, (f) => received.push(f.requestId))));
  await new Promise<void>((r) => server.listen(sock, r));
  const client = net.connect(sock);
  await new Promise((r) => client.once('connect', r));
  t.teardown(() => {
    client.destroy();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const writes: number[] = [];
  const write = client.write.bind(client);
  client.write = ((chunk: Uint8Array, ...rest: never[]) => {
    writes.push(chunk.length);
    return write(chunk, ...rest);
  }) as typeof client.write;
  const link = new FrameLink(client, () => undefined, () => undefined);

  for (let i = 1; i <= 50; i++) link.send(frame(i));
  t.same(writes, [], 'nothing is written while the turn goes on');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.equal(writes.length, 1, `50 frames, ${writes.length} write(s)`);

  writes.length = 0;
  for (let i = 51; i <= 350; i++) link.send(frame(i));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.equal(writes.length, 3, `300 frames: three writes of up to 128 frames (${writes.join(', ')} bytes)`);

  const deadline = Date.now() + 2000;
  while (received.length < 350 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.same(received, Array.from({ length: 350 }, (_, i) => i + 1), 'every frame arrives, in order, intact');
});
