// Spin, then park: after a link sends work it expects an answer to soon, it polls its socket for a
// bounded time instead of going back to epoll. On a VM, a process asleep in epoll costs a
// cross-CPU wake-up per message (~20 µs each way, BENCHMARKS.md): on a small request that is most
// of the latency. Spinning only pays when the answer usually comes within the budget, so the
// spinner learns how long answers take and parks at once when they take longer (an idle instance
// or slow handler costs nothing), and the native poll yields its CPU to anything else runnable
// there between polls (the peer it waits for may be queued on that very CPU).
import { sys } from '../sys/binding.js';

/** Where the spinner's counts go for `top` and /metrics: the process's stats record (ProcessStats). */
export interface PollRecord {
  /** `cpuMicros`: what the poll cost in CPU, not its wall time (it yields between polls). */
  polled(answered: boolean, cpuMicros: number): void;
  parked(): void;
}

/** Weight of the newest wait in the running estimate: a few slow answers turn spinning off. */
const ALPHA = 0.25;

export class Spinner {
  /** Running estimate of how long the peer takes to answer (µs); 0 until one is seen. */
  private expectedUs = 0;
  /** performance.now() when the wait being timed began; 0 when none is. */
  private since = 0;
  /** CPU µs of the last poll, written by the native side (only when there is a record to keep). */
  private readonly cpu = new Float64Array(1);

  constructor(
    readonly budgetUs: number,
    /** Whether the caller has nothing else to do until the answer comes. */
    private readonly idle: () => boolean,
    private readonly record?: PollRecord,
  ) {}

  /**
   * Called right after frames went out on `fd`: polls it for up to the budget when that is worth
   * it. Returns what arrived (a view of `buf`, valid until the next call) or null.
   */
  afterSend(fd: number, buf: Buffer): Buffer | null {
    if (!this.idle()) {
      this.since = 0;
      return null;
    }
    const t0 = performance.now();
    this.since = t0;
    if (this.expectedUs >= this.budgetUs) {
      this.record?.parked();
      return null;
    }
    const n = sys.spinRecv(fd, buf, this.budgetUs, this.record ? this.cpu : undefined);
    const spunUs = (performance.now() - t0) * 1000;
    this.record?.polled(n > 0, this.cpu[0]!);
    if (n > 0) {
      this.observe(spunUs);
      return buf.subarray(0, n);
    }
    // Nothing (or end of stream, or an error, which the event loop's own read then reports as the
    // end of the connection): the wait goes on in epoll and is timed from there.
    return null;
  }

  /** Data arrived through the event loop: learn how long the wait took. */
  arrived(): void {
    if (this.since === 0) return;
    this.observe((performance.now() - this.since) * 1000);
    this.since = 0;
  }

  private observe(us: number): void {
    this.since = 0;
    this.expectedUs = this.expectedUs === 0 ? us : this.expectedUs * (1 - ALPHA) + us * ALPHA;
  }
}

export { socketFd } from '../sys/peer.js';
