// The config an instance runs with elsewhere (a pod, another host), written back from the resolved
// config so it needs nothing but itself and the bundled handlers next to it: every value explicit
// (sizes in bytes, durations in ms), handler paths relative to the file, nothing that only made
// sense on the machine that exported it (CPU ids, the runtime directory).
import type { FlowCall, FlowStep, FunctionConfig, ResolvedConfig } from '../config/types.js';

/** What the exported config changes for its new home. */
export interface PodOverrides {
  /** Where the gateway listens: a pod must listen on its own address, not loopback. */
  host: string;
  /** Gateway processes in the pod (see `podWorkers`). */
  workers: number;
  /** How long a stop keeps serving with /healthz at 503 (see drain.ts). */
  drainDelayMs: number;
  /** The file each function's handler is bundled to, relative to the config file. */
  handlerFile: (f: FunctionConfig) => string;
}

/**
 * Gateways for a pod: half the pod's CPUs (at least one), and no more than the config's
 * gateway.workers when it sets one. A config without it resolves it from the CPUs of the machine
 * that exports, which says nothing about the pod: left out, the export is the same bytes wherever
 * it runs.
 */
export function podWorkers(cfg: ResolvedConfig, cpus: number): number {
  const half = Math.max(1, Math.floor(cpus / 2));
  return cfg.gateway.workersFromCpus ? half : Math.max(1, Math.min(cfg.gateway.workers, half));
}

/** The config file name a handler gets in the exported set: unique per function, safe as a ConfigMap key. */
export function handlerFileName(f: FunctionConfig): string {
  return `fn-${f.id}-${f.name}.mjs`;
}

function call(c: FlowCall): Record<string, unknown> {
  return { function: c.functionId, retries: c.retries, ...(c.timeoutMs !== undefined ? { timeout: c.timeoutMs } : {}) };
}

function step(s: FlowStep): Record<string, unknown> {
  if (s.kind === 'call') return call(s.call);
  return { parallel: s.branches.map(call), ...(s.timeoutMs !== undefined ? { timeout: s.timeoutMs } : {}) };
}

/** The user-config object (what `defineConfig` takes) equivalent to `cfg` with the overrides applied. */
export function podConfig(cfg: ResolvedConfig, o: PodOverrides): Record<string, unknown> {
  const s = cfg.supervisor;
  return {
    functions: cfg.functions.map((f) => ({
      id: f.id,
      name: f.name,
      handler: `./${o.handlerFile(f)}`,
      ...(f.scale ? { scale: { min: f.scale.min, max: f.scale.max, target: f.scale.target, idle: f.scale.idleMs, spares: f.scale.spares } } : { replicas: f.replicas }),
      concurrency: f.concurrency,
      timeout: f.timeoutMs,
      memoryLimit: f.memoryLimit,
      memoryMax: f.memoryMax,
      pidsMax: f.pidsMax,
      domain: f.domain,
      ...(f.user !== undefined ? { user: f.user } : {}),
      env: f.env,
      // Names only: the pod's environment (its Deployment's env, a Secret) gives the values.
      ...(f.passEnv?.length ? { passEnv: f.passEnv } : {}),
      // Names only: each is a Kubernetes Secret the pod mounts (k8s/pod.ts).
      ...(f.secrets?.length ? { secrets: f.secrets } : {}),
    })),
    flows: cfg.flows.map((f) => ({ name: f.name, steps: f.steps.map(step), ...(f.timeoutMs !== undefined ? { timeout: f.timeoutMs } : {}) })),
    gateway: {
      host: o.host,
      port: cfg.gateway.port,
      requestTimeout: cfg.gateway.requestTimeoutMs,
      drainDelay: o.drainDelayMs,
      workers: o.workers,
      parser: cfg.gateway.parser,
      // Who calls stays checked where the config runs (the pod reads its tokens from a Secret, k8s/pod.ts).
      ...(cfg.gateway.auth ? { auth: true } : {}),
      ...(cfg.gateway.accessLog === false ? { accessLog: false } : {}),
      // On the pod's address too: the kubelet's probes and Prometheus come from outside the pod.
      ...(cfg.gateway.admin ? { admin: { host: o.host, port: cfg.gateway.admin.port } } : {}),
    },
    proxy: { queueLimit: cfg.proxy.queueLimit },
    segment: { size: cfg.segment.size, classes: cfg.segment.classes, maxFunctions: cfg.segment.maxFunctions, procSlots: cfg.segment.procSlots, wait: cfg.segment.waitMs },
    spinMicros: cfg.spinMicros,
    logs: { maxSize: cfg.logs.maxBytes, keep: cfg.logs.keep },
    supervisor: {
      maxRestarts: s.maxRestarts,
      period: s.periodMs,
      backoffMin: s.backoffMinMs,
      backoffMax: s.backoffMaxMs,
      shutdownTimeout: s.shutdownTimeoutMs,
      ...(s.readyTimeoutMs !== undefined ? { readyTimeout: s.readyTimeoutMs } : {}),
    },
    observe: { shmWarnPercent: cfg.observe.shmWarnPercent, sampleInterval: cfg.observe.sampleIntervalMs },
    security: { sandbox: cfg.security.sandbox, ...(cfg.security.uidBase !== undefined ? { uidBase: cfg.security.uidBase } : {}) },
  };
}

/**
 * The config as a module faasflow loads (`faasflow.config.mjs`): plain data, no import, so it
 * evaluates the same wherever faasflow is installed. `notes` become its opening comment.
 */
export function podConfigSource(config: Record<string, unknown>, notes: string[]): string {
  const head = notes.map((n) => `// ${n}`).join('\n');
  return `${head}\nexport default ${JSON.stringify(config, null, 2)};\n`;
}
