// The domain segments a gateway maps: one per security domain, each holding that domain's packets.
// The supervisor says which exist and where (its descriptor of each sealed memfd, opened through
// /proc/<supervisor>/fd/<n>: the size of what it maps can never change), at start and whenever
// one is added or rebuilt; a segment that is replaced (its domain was rebuilt after a container
// damaged it) is unmapped and the new one mapped. Everything read from a domain segment is treated
// as untrusted (see shm/pool.ts).
import { Segment } from '../../shm/segment.js';
import { inodeOf } from '../../shm/locate.js';
import type { PacketPool } from '../../shm/pool.js';
import type { DomainSegment } from '../links.js';
import { log } from '../child.js';

export interface Domain {
  index: number;
  name: string;
  seg: Segment;
  pool: PacketPool;
}

export class Domains {
  private readonly byIndex = new Map<number, Domain>();

  get(index: number): Domain | undefined {
    return this.byIndex.get(index);
  }

  all(): Domain[] {
    return [...this.byIndex.values()];
  }

  /**
   * Maps the listed segments; a listed index whose segment was created anew since it was mapped
   * (another file: its inode, not the header's creation time, which the domain's containers can
   * write) is remapped, and `onReplaced` hears of it first so the requests in the old one can be
   * failed. Returns the names that could not be mapped, with the reason.
   */
  update(list: DomainSegment[], onReplaced: (old: Domain) => void): string[] {
    const problems: string[] = [];
    for (const d of list) {
      const cur = this.byIndex.get(d.index);
      if (cur && cur.seg.name === d.segment && cur.seg.ino === inodeOf(d.path)) continue;
      let seg: Segment;
      try {
        seg = Segment.open({ name: d.segment, path: d.path, memfd: true }, true);
      } catch (err) {
        problems.push(`${d.segment}: ${(err as Error).message}`);
        continue;
      }
      if (cur) {
        onReplaced(cur);
        cur.seg.close();
        log('info', `domain ${cur.name}: segment ${d.segment} was rebuilt; mapped the new one`);
      }
      this.byIndex.set(d.index, { index: d.index, name: d.name, seg, pool: seg.pool });
    }
    return problems;
  }

  close(): void {
    for (const d of this.byIndex.values()) d.seg.close();
    this.byIndex.clear();
  }
}
