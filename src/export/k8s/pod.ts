// The pod that runs one faasflow instance: `faasflow up --foreground` as the container's process,
// /dev/shm sized for the segments, a memory limit that covers them and every process, startup and
// readiness probes on GET /healthz (ready once every function has a ready replica; 503 during a
// drain), liveness on GET /livez (the gateway answers), and a grace period that lets every
// request and flow in flight run to its own timeout.
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { replicaCeiling, type ResolvedConfig } from '../../config/types.js';
import { K8S_READINESS, type PodTiming } from '../drain.js';
import { mebibytes, memoryBudget, segmentBytes } from '../sizing.js';

/** Where faasflow is installed in the image (Dockerfile): /app/bin/run.js, /app/node_modules. */
export const APP_DIR = '/app';
/**
 * Where the ConfigMap (config and bundled handlers) is mounted: inside APP_DIR, so a handler's bare
 * imports (sharp, …) resolve to the image's /app/node_modules, the directory above it.
 */
export const CONFIG_DIR = `${APP_DIR}/etc`;
export const CONFIG_FILE = 'faasflow.config.mjs';
/** The image's user (Dockerfile): not root, so domains get Landlock and rlimits, no uid of their own. */
export const IMAGE_UID = 10001;

/**
 * The instance's state directory in the pod (FAASFLOW_STATE_DIR), a volume of its own (an
 * emptyDir's top is writable by the pod's user; a directory made for a mount point is not): only
 * when functions name secrets, whose Kubernetes Secrets are mounted at its secrets/.
 */
export const STATE_DIR = '/var/lib/faasflow';

const MiB = 1024 ** 2;

/**
 * Each secret the functions name is the Kubernetes Secret of that name, its key `value` mounted
 * as <state>/secrets/<name>: where faasflow's own store would have it, so the supervisor gives it
 * to the function's domain as on any host. No value is written here.
 */
export function secretNames(cfg: ResolvedConfig): string[] {
  return [...new Set(cfg.functions.flatMap((f) => f.secrets ?? []))].sort();
}

function secretsVolume(names: string[]) {
  return {
    name: 'secrets',
    // Group-readable: the files are root's, the pod's fsGroup is the image's user.
    projected: { defaultMode: 0o440, sources: names.map((name) => ({ secret: { name, items: [{ key: SECRET_KEY, path: name }] } })) },
  };
}

/**
 * With gateway.auth the gateways read the bearer tokens' hashes from <state>/tokens.json: the
 * Kubernetes Secret of this name, key tokens.json, made from `faasflow token create`'s file.
 */
export function tokensSecret(name: string): string {
  return `${name}-tokens`;
}
export const TOKENS_KEY = 'tokens.json';

/** The key of a Kubernetes Secret that holds the value: `kubectl create secret generic NAME --from-file=value=FILE`. */
export const SECRET_KEY = 'value';

export interface PodInput {
  cfg: ResolvedConfig;
  /** The config the pod runs (workers and drain delay already adjusted for it). */
  podCfg: ResolvedConfig;
  timing: PodTiming;
  name: string;
  image: string;
  cpu: string;
  labels: Record<string, string>;
  configMap: string;
  configHash: string;
}

/**
 * Scratch space (`/tmp`: the instance's runtime directory, logs, each domain's TMPDIR): every
 * process's log may grow to logs.maxSize × (keep + 1), plus room for bundles and handlers' files.
 */
export function scratchBytes(cfg: ResolvedConfig): number {
  const processes = 1 + cfg.gateway.workers + cfg.functions.reduce((a, f) => a + replicaCeiling(f), 0);
  const logs = processes * cfg.logs.maxBytes * (cfg.logs.keep + 1);
  return Math.max(256 * MiB, logs + 64 * MiB);
}

/** The container port probes and scrapes go to: `admin` with gateway.admin, else the gateway's `http`. */
export function probePort(cfg: ResolvedConfig): 'admin' | 'http' {
  return cfg.gateway.admin ? 'admin' : 'http';
}

function probes(p: PodInput): { startupProbe: IProbe; readinessProbe: IProbe; livenessProbe: IProbe } {
  const port = probePort(p.podCfg);
  const get = { httpGet: { path: '/healthz', port }, timeoutSeconds: 1 };
  const live = { httpGet: { path: '/livez', port }, timeoutSeconds: 1 };
  const period = K8S_READINESS.interMs / 1000;
  // Startup bundles the handlers and waits for every container: readyTimeout each, twice over.
  const startWithin = 2 * (p.podCfg.supervisor.readyTimeoutMs ?? 30_000) + 30_000;
  const livePeriod = 10;
  return {
    startupProbe: { ...get, periodSeconds: period, failureThreshold: Math.ceil(startWithin / 1000 / period) },
    readinessProbe: { ...get, periodSeconds: period, failureThreshold: K8S_READINESS.fall, successThreshold: K8S_READINESS.rise },
    // /livez answers 200 during the drain delay but nothing once the listener closes and the
    // accepted requests finish: liveness must not trip (and restart the container) within the
    // grace period of a stop that is going well. A function without a ready replica is no
    // reason to restart the pod either: readiness says it.
    livenessProbe: { ...live, periodSeconds: livePeriod, failureThreshold: Math.ceil(p.timing.graceSeconds / livePeriod) + 1 },
  };
}

export function podTemplate(p: PodInput): IPodTemplateSpec {
  const shm = segmentBytes(p.podCfg);
  const secrets = secretNames(p.podCfg);
  const tokens = p.podCfg.gateway.auth === true;
  const state = secrets.length > 0 || tokens;
  const memory = mebibytes(memoryBudget(p.podCfg).total);
  return {
    metadata: {
      labels: p.labels,
      annotations: {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String((p.podCfg.gateway.admin ?? p.podCfg.gateway).port),
        'prometheus.io/path': '/metrics',
        // The config is part of the template: a changed config rolls the pods.
        'faasflow.dev/config-hash': p.configHash,
      },
    },
    spec: {
      // Node cannot reap processes it did not start: with a shared process namespace the pod's
      // pause process is PID 1 and reaps what a handler started and left behind when its container
      // died. faasflow stays the container's main process and gets its SIGTERM.
      shareProcessNamespace: true,
      terminationGracePeriodSeconds: p.timing.graceSeconds,
      enableServiceLinks: false,
      securityContext: { runAsNonRoot: true, runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID, fsGroup: IMAGE_UID, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'faasflow',
          image: p.image,
          args: ['up', '--foreground', '--log-format', 'json', '--instance', p.name, '--config', `${CONFIG_DIR}/${CONFIG_FILE}`],
          workingDir: CONFIG_DIR,
          env: [
            { name: 'HOME', value: '/tmp' },
            { name: 'NO_COLOR', value: '1' },
            ...(state ? [{ name: 'FAASFLOW_STATE_DIR', value: STATE_DIR }] : []),
          ],
          ports: [
            { name: 'http', containerPort: p.podCfg.gateway.port, protocol: 'TCP' },
            ...(p.podCfg.gateway.admin ? [{ name: 'admin', containerPort: p.podCfg.gateway.admin.port, protocol: 'TCP' as const }] : []),
          ],
          ...probes(p),
          resources: { requests: { cpu: p.cpu, memory }, limits: { memory } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          volumeMounts: [
            { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
            { name: 'shm', mountPath: '/dev/shm' },
            { name: 'tmp', mountPath: '/tmp' },
            ...(state ? [{ name: 'state', mountPath: STATE_DIR }] : []),
            ...(secrets.length ? [{ name: 'secrets', mountPath: `${STATE_DIR}/secrets`, readOnly: true }] : []),
            // One file into the writable state directory (a subPath: a changed Secret needs a rollout restart).
            ...(tokens ? [{ name: 'tokens', mountPath: `${STATE_DIR}/${TOKENS_KEY}`, subPath: TOKENS_KEY, readOnly: true }] : []),
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: p.configMap, defaultMode: 0o444 } },
        // A container's own /dev/shm is 64 MiB. This one holds exactly the runtime segment (the
        // domain segments are memfds, in no filesystem); its pages, and the memfds', count against
        // the memory limit above, which includes them.
        { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: mebibytes(shm.shm) } },
        { name: 'tmp', emptyDir: { sizeLimit: mebibytes(scratchBytes(p.podCfg)) } },
        ...(state ? [{ name: 'state', emptyDir: {} }] : []),
        ...(secrets.length ? [secretsVolume(secrets)] : []),
        ...(tokens ? [{ name: 'tokens', secret: { secretName: tokensSecret(p.name), items: [{ key: TOKENS_KEY, path: TOKENS_KEY }], defaultMode: 0o440 } }] : []),
      ],
    },
  };
}
