// The async queue process (runtime/queue/main.ts), when the config has `async`: started before the
// gateways (so the first async request finds it), restarted whenever it dies (what it had accepted
// is on disk), stopped alongside the gateways, and the last depth it reported kept for `ps`.
import type { ResolvedConfig } from '../../config/types.js';
import { FaasflowError } from '../../common/errors.js';
import type { QueueStats } from '../../common/queue-stats.js';
import { Child } from './child.js';
import type { childSpecs } from './specs.js';

export class QueueProcess {
  child: Child | undefined;
  /** What it last reported (every tick). */
  stats: QueueStats | undefined;

  constructor(
    private readonly cfg: ResolvedConfig,
    private readonly specs: ReturnType<typeof childSpecs>,
    private readonly adopt: (c: Child) => Child,
  ) {}

  async start(): Promise<void> {
    if (!this.cfg.async) return;
    const c = this.adopt(new Child(this.specs.queue()));
    this.child = c;
    c.on('message', (m) => {
      if (m.type === 'queue-stats') this.stats = m.stats;
    });
    c.start();
    const r = await c.outcome();
    if (!r.ready) throw new FaasflowError('START_FAILED', `the async queue did not start: ${r.reason} (see \`faasflow logs\`, queue.log)`);
  }

  all(): Child[] {
    return this.child ? [this.child] : [];
  }

  stop(timeoutMs: number): Promise<unknown> {
    return this.child?.running ? this.child.stop(timeoutMs) : Promise.resolve();
  }
}
