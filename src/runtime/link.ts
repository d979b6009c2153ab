// A descriptor link over a Unix socket: frames out are coalesced (every frame queued during one
// turn of the event loop leaves in a single write), frames in are split and validated. A peer that
// sends garbage is disconnected, and the close says it was a violation (the gateway then has the
// container replaced); nothing it sent can reach the pool.
import type net from 'node:net';
import { FRAME_BYTES, FrameReader, encodeFrame, type Frame } from '../shm/frame.js';
import { socketFd, type Spinner } from './spin.js';

/** Frames per batch buffer: 128 × 48 B = 6 KiB, one write for a whole burst. */
const BATCH_FRAMES = 128;

/**
 * How a link ended: `here` (this process closed it), `violation` (closed here because the peer sent
 * what the protocol forbids), `peer` (the peer closed it or died).
 */
export type LinkEnd = 'here' | 'violation' | 'peer';

export class FrameLink {
  readonly socket: net.Socket;
  private readonly reader = new FrameReader();
  private readonly batch: Buffer = Buffer.allocUnsafe(BATCH_FRAMES * FRAME_BYTES);
  private used = 0;
  private scheduled = false;
  private spinner: Spinner | undefined;
  private spinBuf: Buffer | undefined;
  private readonly receive: (chunk: Buffer) => void;
  private closeErr: Error | undefined;
  /** Who ended the link: this side (close()), this side because the peer broke the protocol (fail()), or the peer. */
  private cause: LinkEnd = 'peer';
  closed = false;

  constructor(socket: net.Socket, onFrame: (f: Frame) => void, onClose: (err: Error | undefined, cause: LinkEnd) => void) {
    this.socket = socket;
    socket.setNoDelay?.(true);
    this.receive = (chunk) => {
      if (this.closed) return;
      try {
        this.reader.push(chunk, onFrame);
      } catch (err) {
        this.fail(err as Error);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      this.spinner?.arrived();
      this.receive(chunk);
    });
    socket.on('error', (err) => {
      this.closeErr ??= err;
    });
    socket.on('close', () => {
      this.closed = true;
      if (!this.closeErr && this.reader.buffered > 0) this.closeErr = new Error(`connection closed in the middle of a frame (${this.reader.buffered} bytes)`);
      onClose(this.closeErr, this.cause);
    });
  }

  /** Closes the link because the peer broke the protocol (a bad frame, no hello in time). */
  fail(err: Error): void {
    if (this.closed) return;
    this.closeErr ??= err;
    this.cause = 'violation';
    this.close();
  }

  send(f: Frame): void {
    if (this.closed) return;
    if (this.used === BATCH_FRAMES) this.flush();
    encodeFrame(f, this.batch, this.used * FRAME_BYTES);
    this.used++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushAndWait);
    }
  }

  /** The end of a turn of the event loop: what was queued leaves, then the answer may be polled for. */
  private readonly flushAndWait = (): void => {
    this.scheduled = false;
    if (this.used === 0 || this.closed) return;
    this.flush();
    if (this.spinner) this.spin(this.spinner);
  };

  flush(): void {
    if (this.used === 0 || this.closed) return;
    // The socket may keep what it is given until the kernel takes it, so it gets a copy (pooled,
    // small) and the batch buffer is reused at once.
    const out = Buffer.from(this.batch.subarray(0, this.used * FRAME_BYTES));
    this.used = 0;
    this.socket.write(out);
  }

  /** After each flush, poll for the answer with `spinner` (see spin.ts) instead of parking. */
  spinWith(spinner: Spinner): void {
    this.spinner = spinner;
    this.spinBuf ??= Buffer.allocUnsafeSlow(BATCH_FRAMES * FRAME_BYTES);
  }

  private spin(spinner: Spinner): void {
    const fd = socketFd(this.socket);
    if (fd < 0 || this.closed || this.socket.writableLength > 0) return;
    const got = spinner.afterSend(fd, this.spinBuf!);
    // FrameReader decodes at once and copies any partial frame, so the shared buffer can be reused.
    if (got) this.receive(got);
  }

  close(): void {
    if (this.closed) return;
    if (this.cause === 'peer') this.cause = 'here';
    this.flush();
    this.closed = true;
    this.socket.destroy();
  }
}
