// The async queue process (runtime/queue/main.ts), when the config has `async`: started before the
// gateways (so the first async request finds it), restarted whenever it dies (what it had accepted
// is on disk), stopped alongside the gateways, and the last depth it reported kept for `ps`. The
// config's `schedules` are fired from here, once the queue is up (queue/schedules.ts).
import type { ResolvedConfig } from '../../config/types.js';
import { FaasflowError } from '../../common/errors.js';
import type { QueueStats } from '../../common/queue-stats.js';
import { instanceFiles } from '../../common/paths.js';
import { stateDirFor, stateFiles } from '../../common/state-dir.js';
import { Child } from './child.js';
import type { childSpecs } from './specs.js';
import { Schedules } from '../queue/schedules.js';
import { QueueLink } from '../gateway/queue-link.js';

const STATS_WRITE_MS = 1000;

export class QueueProcess {
  child: Child | undefined;
  /** What it last reported (every tick). */
  stats: QueueStats | undefined;
  schedules: Schedules | undefined;

  constructor(
    private readonly cfg: ResolvedConfig,
    private readonly specs: ReturnType<typeof childSpecs>,
    private readonly adopt: (c: Child) => Child,
    private readonly say: (message: string) => void = () => undefined,
    /** The stats changed: the state file (what `top` reads) is rewritten, at most every STATS_WRITE_MS. */
    private readonly statsChanged: () => void = () => undefined,
  ) {}

  private lastStats = '';
  private lastWrite = 0;
  private writeTimer: NodeJS.Timeout | undefined;

  private noteStats(stats: QueueStats): void {
    this.stats = stats;
    // The age moves every tick; what an operator acts on is the rest.
    const key = JSON.stringify({ ...stats, oldestAgeSeconds: stats.oldestAgeSeconds > 0 });
    if (key === this.lastStats || this.writeTimer) return;
    this.lastStats = key;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = undefined;
      this.lastWrite = Date.now();
      this.statsChanged();
    }, Math.max(0, this.lastWrite + STATS_WRITE_MS - Date.now()));
  }

  async start(): Promise<void> {
    if (!this.cfg.async) return;
    const c = this.adopt(new Child(this.specs.queue()));
    this.child = c;
    c.on('message', (m) => {
      if (m.type === 'queue-stats') this.noteStats(m.stats);
    });
    c.start();
    const r = await c.outcome();
    if (!r.ready) throw new FaasflowError('START_FAILED', `the async queue did not start: ${r.reason} (see \`faasflow logs\`, queue.log)`);
    this.startSchedules();
  }

  private startSchedules(): void {
    const list = this.cfg.schedules ?? [];
    if (!list.length) return;
    const files = instanceFiles(this.cfg.runtimeDir);
    const say = (level: string, m: string) => this.say(level === 'info' ? m : `${level}: ${m}`);
    // A result asked for (to see whether a slot is in already) may carry a body of the largest class.
    const link = new QueueLink(files.queueSocket, files.token, Math.max(...this.cfg.segment.classes.map((c) => c.size)), { runs: false, log: say });
    this.schedules = new Schedules(this.cfg.instance, list, stateFiles(stateDirFor(this.cfg.instance)).schedules, link, say);
    this.schedules.start();
  }

  all(): Child[] {
    return this.child ? [this.child] : [];
  }

  stop(timeoutMs: number): Promise<unknown> {
    this.schedules?.stop();
    clearTimeout(this.writeTimer);
    return this.child?.running ? this.child.stop(timeoutMs) : Promise.resolve();
  }
}
