// What the periodic sweep for dead owners says in the supervisor's log. The owner words it reads
// are in a domain segment its containers can write: a handler that fills its own packet table with
// random numbers makes every one of them a "dead pid" with packets to reclaim, and one log line per
// pid let a single request write 1,552 lines and rotate the log's history away. So each domain
// gets at most one line per sweep, and at most one per REPORT_MS: counts, and a few of the pids.
// Reclaiming itself is never held back; only the telling is.

/** The shortest time between two lines about one domain; sweeps in between are added up. */
export const REPORT_MS = 60_000;
/** Pids named in a line; the rest are counted. */
const SAMPLE_PIDS = 5;

interface Tally {
  packets: number;
  owners: number;
  sweeps: number;
  pids: number[];
}

export class ReclaimReport {
  private readonly tallies = new Map<string, Tally>();
  private readonly lastLine = new Map<string, number>();

  /** One sweep's result for `domain`: pid → packets freed. */
  add(domain: string, freed: Map<number, number>): void {
    let t = this.tallies.get(domain);
    let any = false;
    for (const [pid, n] of freed) {
      if (!n) continue;
      t ??= { packets: 0, owners: 0, sweeps: 0, pids: [] };
      if (!any) t.sweeps++;
      any = true;
      t.packets += n;
      t.owners++;
      if (t.pids.length < SAMPLE_PIDS) t.pids.push(pid);
    }
    if (t) this.tallies.set(domain, t);
  }

  /** The lines due now: one per domain with something reclaimed and no line in the last REPORT_MS. */
  lines(now = Date.now()): string[] {
    const out: string[] = [];
    for (const [domain, t] of this.tallies) {
      if (now - (this.lastLine.get(domain) ?? -Infinity) < REPORT_MS) continue;
      this.tallies.delete(domain);
      this.lastLine.set(domain, now);
      const more = t.owners > t.pids.length ? `, … ${t.owners - t.pids.length} more` : '';
      const over = t.sweeps > 1 ? ` over ${t.sweeps} sweeps` : '';
      out.push(`domain ${domain}: reclaimed ${t.packets} packet(s) held by ${t.owners} dead owner(s) (pid ${t.pids.join(', ')}${more})${over}`);
    }
    return out;
  }
}
