// What a bigger machine would carry, modelled from this run: each process's CPU time per request
// at 1 KiB × 32 connections. faasflow's work splits into gateway and container time; on K cores a
// split of G gateways and K − G container cores carries min(G ÷ gateway time, (K − G) ÷ container
// time) requests a second, at the best whole split. The Node cluster floor carries K ÷ its time.
// The model leaves out what does not scale with cores (one memory bus, the kernel's locks, the
// load generator, which runs elsewhere on such a machine) and so flatters both sides alike.
import { findCell } from './summary.js';
import type { CellSummary } from './types.js';

export interface ScalingRow {
  cores: number;
  /** Gateways and container cores in the best split. */
  gateways: number;
  faasflow: number;
  floor: number;
  ratio: number;
}

export interface ScalingModel {
  /** µs of CPU per request: faasflow's gateway and containers, and the floor's one process. */
  gatewayUs: number;
  containerUs: number;
  floorUs: number;
  rows: ScalingRow[];
}

export function scalingModel(summary: CellSummary[], cores = [2, 8, 16]): ScalingModel | undefined {
  const ours = findCell(summary, 'faasflow', 1024, 32)?.cpuPerRequestByRole;
  const floor = findCell(summary, 'floor', 1024, 32)?.cpuPerRequest;
  if (!ours?.gateway || !ours.container || !floor || !Number.isFinite(floor)) return undefined;
  const gw = ours.gateway;
  // The supervisor's share is next to nothing under load; it runs beside the containers.
  const ct = ours.container + (ours.supervisor ?? 0);
  const rows = cores.map((k): ScalingRow => {
    let best = { gateways: 1, rps: 0 };
    for (let g = 1; g < k; g++) {
      const rps = Math.min(g / gw, (k - g) / ct) * 1e6;
      if (rps > best.rps) best = { gateways: g, rps };
    }
    const floorRps = (k * 1e6) / floor;
    return { cores: k, gateways: best.gateways, faasflow: best.rps, floor: floorRps, ratio: best.rps / floorRps };
  });
  return { gatewayUs: gw, containerUs: ct, floorUs: floor, rows };
}
