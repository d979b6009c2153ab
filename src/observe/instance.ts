// An instance as readers see it: its runtime segment (process table, the gateways' function stats,
// their own process stats) and its domain segments (each domain's packets and its containers'
// stats), all mapped read-only, or borrowed from a process that maps them already (the gateway).
import { ProcessStats, Segment, type ProcEntry, type SegmentEntry } from '../shm/index.js';

export class InstanceView {
  private constructor(
    readonly runtime: Segment,
    /** By domain index. */
    readonly domains: Map<number, Segment>,
    /** Whether close() unmaps them (false: borrowed from their owner). */
    private readonly owned: boolean,
  ) {}

  /** Views segments a process already maps (the gateway's /metrics). */
  static borrow(runtime: Segment, domains: Iterable<Segment>): InstanceView {
    return new InstanceView(runtime, withOwnPackets(runtime, new Map([...domains].map((d) => [d.header.domainIndex, d]))), false);
  }

  /** Views one self-contained segment (every table in it, as tools and tests make them); closes it on close(). */
  static single(seg: Segment): InstanceView {
    return new InstanceView(seg, withOwnPackets(seg, new Map()), true);
  }

  /**
   * Maps an instance's segments read-only. A domain segment that cannot be read (being created,
   * removed meanwhile) is left out; the runtime segment's failure is thrown.
   */
  static open(runtime_: SegmentEntry | string, domainEntries: (SegmentEntry | string)[]): InstanceView {
    const runtime = Segment.open(runtime_, false);
    const domains = new Map<number, Segment>();
    for (const n of domainEntries) {
      try {
        const d = Segment.open(n, false);
        if (d.kind === 'domain') domains.set(d.header.domainIndex, d);
        else d.close();
      } catch {
        // not readable now; the next look may find it
      }
    }
    return new InstanceView(runtime, withOwnPackets(runtime, domains), true);
  }

  get name(): string {
    return this.runtime.header.name;
  }

  /** Every mapped segment: the runtime one first. */
  segments(): Segment[] {
    return [...new Set([this.runtime, ...this.domains.values()])];
  }

  /**
   * Where a process's own stats record is: a container's in its domain segment, others' (and a
   * container registered without a domain, in a self-contained segment) in the runtime segment.
   */
  statsOf(e: ProcEntry): ProcessStats | undefined {
    const seg = e.role === 'container' && e.domainIndex >= 0 ? this.domains.get(e.domainIndex) : this.runtime;
    if (!seg || !(e.statsSlot >= 0 && e.statsSlot < seg.layout.statsSlots)) return undefined;
    return new ProcessStats(seg, e.statsSlot);
  }

  close(): void {
    if (!this.owned) return;
    for (const d of this.domains.values()) d.close();
    this.runtime.close();
  }
}

/** A segment with packets of its own (a self-contained one) is also the pool readers show. */
function withOwnPackets(seg: Segment, domains: Map<number, Segment>): Map<number, Segment> {
  if (seg.layout.packetCount > 0 && ![...domains.values()].includes(seg)) domains.set(seg.header.domainIndex, seg);
  return domains;
}
