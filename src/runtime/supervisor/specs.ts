// The child specs of an instance, as data: the gateways (significant: without them nothing serves)
// and one container per function replica, started in its domain's sandbox. A spec's environment is
// the child's whole environment: a gateway's the supervisor's, a container's only what
// environment.ts lets through.
import path from 'node:path';
import type { ResolvedConfig } from '../../config/types.js';
import type { InstancePaths } from '../../common/paths.js';
import { segmentName } from '../../shm/index.js';
import { SANDBOX_BINARY, sandboxArgs, type SandboxPolicy } from '../../sys/sandbox.js';
import { ENV } from '../../common/env.js';
import type { DomainSegment } from '../links.js';
import type { FnEntry } from './deployments.js';
import { containerSpecId, type ChildSpec, type Intensity } from './spec.js';
import { inheritedEnv, wholeEnv } from './environment.js';
import { containerStopMs, stopBudget } from '../../config/stop.js';
import { dataLimitEnv, dataLimitNodeOptions } from './data-limit.js';

/** The supervisor's SIGKILL of a gateway comes this long after the gateway's own timer would end it. */
export const KILL_AFTER_MS = 1000;

export function intensityOf(cfg: ResolvedConfig): Intensity {
  const s = cfg.supervisor;
  return { maxRestarts: s.maxRestarts, periodMs: s.periodMs, backoffMinMs: s.backoffMinMs, backoffMaxMs: s.backoffMaxMs };
}

/**
 * glibc's malloc hands freed heap back to the kernel eagerly, so every large body Node's HTTP
 * parser buffers faults in fresh pages: 40 % of the gateway's CPU at 1 MiB bodies (BENCHMARKS.md).
 * Keeping up to 256 MiB of freed heap and growing it 64 MiB at a time halves the CPU per request
 * at 1 MiB and 16 MiB. A user's own GLIBC_TUNABLES wins.
 */
export const MALLOC_TUNABLES = 'glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=67108864:glibc.malloc.mmap_threshold=33554432';

/**
 * The gateway's young generation. What a request allocates dies with it, so each young-generation
 * collection copies only the requests in flight; the fewer collections, the less GC, up to where
 * the young generation is big enough that V8 starts mark-compacts too. Measured at 1 KiB × 32
 * (wrk, 2 vCPUs): 2 MiB semi-spaces made ~950 collections in 5 s (2.8 % of the time), 4 MiB ~470
 * (1.8–2.1 %), 8 MiB ~230 (1.4–1.6 %, pauses under 1 ms but for a preempted one), and 16 MiB
 * (Node's default here) as many as 8 plus mark-compacts of up to 8 ms. A user's own NODE_OPTIONS
 * setting wins.
 */
export const GATEWAY_NODE_OPTIONS = ['--max-semi-space-size=8'];

export function childSpecs(cfg: ResolvedConfig, paths: InstancePaths, modules: { gateway: string; container: string; queue: string }) {
  const common = {
    GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? MALLOC_TUNABLES,
    ...(cfg.cpus ? { [ENV.cpus]: cfg.cpus.join(',') } : {}),
    [ENV.spinMicros]: String(cfg.spinMicros),
  };
  const readyTimeoutMs = cfg.supervisor.readyTimeoutMs ?? 30_000;
  return {
    /**
     * Gateway number `index`, serving on `listenFd` (the supervisor's socket on the port, which the
     * gateway inherits); `port` is what that socket is bound to, once known; `adminFd` the admin
     * listener's socket (gateway.admin), the same one for every gateway.
     */
    gateway: (index: number, domains: DomainSegment[], listenFd: number, port?: number, adminFd?: number): ChildSpec => ({
      id: index === 0 ? 'gateway' : `gateway.${index}`,
      role: 'gateway',
      functionId: 0,
      deployment: 0,
      replica: index,
      start: {
        module: modules.gateway,
        env: {
          ...wholeEnv(process.env),
          ...common,
          [ENV.config]: paths.config,
          [ENV.segment]: segmentName(cfg.instance),
          [ENV.gatewayIndex]: String(index),
          [ENV.domains]: JSON.stringify(domains),
          ...(port !== undefined ? { [ENV.port]: String(port) } : {}),
        },
        nodeOptions: process.env.NODE_OPTIONS?.includes('semi-space') ? [] : GATEWAY_NODE_OPTIONS,
        fds: { [ENV.listenFd]: listenFd, ...(adminFd !== undefined ? { [ENV.adminFd]: adminFd } : {}) },
      },
      restart: 'permanent',
      // The drain delay, then every request and flow in flight to its deadline (config/stop.ts);
      // the gateway's own timer ends it first, with a log line, should it come to that.
      shutdownMs: stopBudget(cfg).gatewayMs + KILL_AFTER_MS,
      readyTimeoutMs,
      significant: true,
    }),
    /** The async queue process (config `async`): trusted like a gateway, Node IPC, restarted always. */
    queue: (): ChildSpec => ({
      id: 'queue',
      role: 'queue',
      functionId: 0,
      deployment: 0,
      replica: 0,
      start: { module: modules.queue, env: { ...wholeEnv(process.env), GLIBC_TUNABLES: common.GLIBC_TUNABLES, [ENV.config]: paths.config } },
      restart: 'permanent',
      // Its runs in flight finish first (the gateways drain them), as long as the gateways' drain.
      shutdownMs: stopBudget(cfg).gatewayMs + KILL_AFTER_MS,
      readyTimeoutMs,
      significant: false,
    }),
    /**
     * A replica of `f`, in the domain whose segment is `segment` (the supervisor's memfd
     * `segmentFd`, which the child inherits), writing its stats at `statsSlot`; with a sandbox
     * policy, started through the launcher and given its handler over its channel.
     */
    container: (f: FnEntry, replica: number, d: { segment: string; segmentFd: number; statsSlot: number; tmpDir: string; secretsDir: string; policy?: SandboxPolicy }): ChildSpec => ({
      id: containerSpecId(f.id, f.deployment, replica),
      role: 'container',
      functionId: f.id,
      deployment: f.deployment,
      replica,
      start: {
        module: modules.container,
        env: {
          ...inheritedEnv(process.env, f.passEnv),
          // Libraries that cache (fontconfig under sharp, for one) write below $XDG_CACHE_HOME or
          // $HOME/.cache; the sandbox lets a domain write only its own temporary directory.
          XDG_CACHE_HOME: path.join(d.tmpDir, '.cache'),
          ...f.env,
          // Bounded by RLIMIT_DATA, it is sized for that bound (data-limit.ts says why).
          ...(d.policy?.dataBytes !== undefined ? dataLimitEnv(common, process.env.GLIBC_TUNABLES) : common),
          [ENV.functionId]: String(f.id),
          [ENV.deployment]: String(f.deployment),
          [ENV.replica]: String(replica),
          [ENV.handler]: f.bundle,
          [ENV.concurrency]: String(f.concurrency),
          [ENV.timeoutMs]: String(f.timeoutMs),
          [ENV.segment]: d.segment,
          [ENV.statsSlot]: String(d.statsSlot),
          TMPDIR: d.tmpDir,
          // The path only: the values are files there, never in the environment.
          [ENV.secretsDir]: d.secretsDir,
          // The launcher makes this the container's NODE_OPTIONS (and drops any other).
          ...(d.policy ? { [ENV.handlerIpc]: '1', [ENV.nodeOptions]: f.env.NODE_OPTIONS ?? '' } : {}),
        },
        ...(d.policy ? { wrapper: [SANDBOX_BINARY, ...sandboxArgs(d.policy)] } : {}),
        ...(d.policy?.dataBytes !== undefined ? { nodeOptions: dataLimitNodeOptions(d.policy.dataBytes, f.env.NODE_OPTIONS) } : {}),
        fds: { [ENV.segmentFd]: d.segmentFd },
      },
      restart: 'permanent',
      // In-flight requests may run up to the function's timeout before the replica can exit.
      shutdownMs: containerStopMs(f.timeoutMs, cfg.supervisor.shutdownTimeoutMs),
      readyTimeoutMs,
      significant: false,
    }),
  };
}
