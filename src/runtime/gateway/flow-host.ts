// The gateway's side of flows: which flow a POST /flow/<name> starts, the packets flows hold
// between steps (kept out of reach of a container's frees), and each flow's counters, kept in
// the function stats row the config gave it (flows take the last rows of that table).
import type { ClientResponse } from '../http1/types.js';
import type { Descriptor, PacketPool } from '../../shm/pool.js';
import type { FunctionStats } from '../../shm/stats.js';
import { FN_2XX, FN_4XX, FN_5XX, FN_BYTES_IN, FN_BYTES_OUT, FN_COPIED_BYTES, FN_COPIES, FN_INFLIGHT, FN_REQUESTS } from '../../shm/constants.js';
import { H_TOTAL } from '../../shm/stats.js';
import type { FlowCall, FlowConfig } from '../../config/types.js';
import type { FreeGuard } from '../envelope.js';
import type { Exchange } from './exchange.js';
import { FlowRun, type FlowHost } from './flows.js';
import { sendError } from './errors.js';
import type { GatewayMemory } from './memory.js';

/** What flows need of the gateway besides FlowHost's own bookkeeping. */
export interface FlowGateway {
  readonly stats: FunctionStats;
  poolFor(fn: number): PacketPool | undefined;
  timeoutOf(fn: number): number | undefined;
  takeId(): number;
  submit(p: Exchange): void;
  cancel(p: Exchange): void;
  guard(pool: PacketPool): FreeGuard;
  release(pool: PacketPool, d: Descriptor): void;
  checkIdle(): void;
  readonly memory: GatewayMemory;
}

export class Flows implements FlowHost {
  private readonly byName: Map<string, FlowConfig>;
  /** Flows that still hold packets: the gateway is not idle (nor may exit) while any does. */
  active = 0;

  constructor(private readonly gw: FlowGateway, flows: FlowConfig[]) {
    this.byName = new Map(flows.map((f) => [f.name, f]));
  }

  get(name: string): FlowConfig | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The flow's body is in its packet (taken like a request for its first function): run it. */
  start(p: Exchange): void {
    const gw = this.gw;
    // Its steps count as requests of their functions; the flow counts in its own row.
    gw.stats.add(p.fn, FN_INFLIGHT, -1);
    if (p.metaDesc) gw.release(p.pool, p.metaDesc);
    const flow = this.byName.get(p.flow!);
    if (!flow) {
      gw.release(p.pool, p.desc);
      sendError(p.res as ClientResponse, 404, `no flow named ${p.flow}`, { requestId: p.id }, { 'x-request-id': String(p.id) });
      return gw.checkIdle();
    }
    this.active++;
    gw.stats.add(flow.statsId, FN_INFLIGHT);
    new FlowRun(this, flow, p).start();
  }

  poolFor(fn: number): PacketPool | undefined {
    return this.gw.poolFor(fn);
  }

  timeoutOf(fn: number): number | undefined {
    return this.gw.timeoutOf(fn);
  }

  takeId(): number {
    return this.gw.takeId();
  }

  submit(p: Exchange): void {
    this.gw.submit(p);
  }

  cancel(p: Exchange): void {
    this.gw.cancel(p);
  }

  hold(pool: PacketPool, d: Descriptor): void {
    this.gw.guard(pool).inFlight.add(d.index);
  }

  release(pool: PacketPool, d: Descriptor): void {
    this.gw.guard(pool).inFlight.delete(d.index);
    this.gw.release(pool, d);
  }

  addInflight(fn: number): void {
    this.gw.stats.add(fn, FN_INFLIGHT);
  }

  obtain(...a: Parameters<FlowHost['obtain']>): void {
    this.gw.memory.obtain(...a);
  }

  flowDone(flow: FlowConfig, status: number, t0: number, bytesIn: number, bytesOut: number): void {
    const s = this.gw.stats;
    s.add(flow.statsId, FN_INFLIGHT, -1);
    s.add(flow.statsId, FN_BYTES_IN, bytesIn);
    s.add(flow.statsId, FN_BYTES_OUT, bytesOut);
    this.outcome(flow.statsId, status, t0);
  }

  stepDone(call: FlowCall, status: number, t0: number): void {
    this.outcome(call.statsId, status, t0);
  }

  private outcome(row: number, status: number, t0: number): void {
    const s = this.gw.stats;
    s.add(row, FN_REQUESTS);
    s.add(row, status < 400 ? FN_2XX : status < 500 ? FN_4XX : FN_5XX);
    s.record(row, H_TOTAL, Math.round((performance.now() - t0) * 1000));
  }

  copied(flow: FlowConfig, bytes: number): void {
    this.gw.stats.add(flow.statsId, FN_COPIES);
    this.gw.stats.add(flow.statsId, FN_COPIED_BYTES, bytes);
  }

  flowReleased(): void {
    this.active--;
    this.gw.checkIdle();
  }
}
