// Kubernetes manifests for one faasflow instance per pod, rendered from the same resolved config
// `faasflow up` runs: a ConfigMap (the config and the bundled handlers), a Deployment, a Service, a
// PodDisruptionBudget, a KEDA ScaledObject on the in-flight requests per pod, and optionally a
// prometheus-operator PodMonitor. Pure: objects in, objects out.
import { createHash } from 'node:crypto';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { ResolvedConfig } from '../../config/types.js';
import { FaasflowError } from '../../common/errors.js';
import type { PodTiming } from '../drain.js';
import { CONFIG_FILE, podTemplate, probePort } from './pod.js';

export interface K8sOptions {
  /** Name of every object and the instance in the pod (a DNS label). */
  name: string;
  namespace?: string;
  image: string;
  /** Pods to start with, and the autoscaler's floor. */
  replicas: number;
  maxReplicas: number;
  /** CPU request per pod, a Kubernetes quantity ("1", "500m"). */
  cpu: string;
  /** Prometheus the autoscaler queries. */
  prometheusUrl: string;
  /** In-flight requests per pod the autoscaler aims for; default: 70 % of a pod's concurrency. */
  targetInflight?: number;
  /** Also a prometheus-operator PodMonitor (the pod's scrape annotations serve the rest). */
  podMonitor: boolean;
}

/** What goes into the ConfigMap: the config module and one bundled handler per function. */
export interface ExportFiles {
  config: string;
  handlers: Record<string, string>;
}

export type Manifest = IConfigMap | IDeployment | IService | IPodDisruptionBudget | IScaledObject | IPodMonitor;

/** A ConfigMap's data is stored in etcd in one object, capped at 1 MiB. */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

/**
 * In-flight requests one pod can work on at once: every replica of every function at full
 * concurrency; an elastic function (functions[].scale) counts at its ceiling, `max` replicas at its
 * own `target` each, the load past which the pod's own scaler can add no replica: then a new pod.
 */
export function podConcurrency(cfg: ResolvedConfig): number {
  return cfg.functions.reduce((a, f) => a + (f.scale ? f.scale.max * f.scale.target : f.replicas * f.concurrency), 0);
}

/**
 * The autoscaler's query: requests in flight in all of this Deployment's pods. `namespace` and `pod`
 * are the labels both a PodMonitor and the usual annotation-driven scrape job put on each series.
 */
export function inflightQuery(o: Pick<K8sOptions, 'name' | 'namespace'>): string {
  const ns = o.namespace ? `namespace="${o.namespace}",` : '';
  return `sum(faasflow_requests_in_flight{${ns}pod=~"${o.name}-[a-z0-9]+-[a-z0-9]+"})`;
}

export function configHash(files: ExportFiles): string {
  const h = createHash('sha256').update(files.config);
  for (const k of Object.keys(files.handlers).sort()) h.update(`\0${k}\0${files.handlers[k]}`);
  return h.digest('hex').slice(0, 10);
}

/**
 * Every manifest, in the order `kubectl apply` should create them. The ConfigMap's name carries a
 * hash of its content and is immutable: a new config is a new ConfigMap and a rolling update of the
 * Deployment, so old pods keep the config they started with until they are replaced.
 */
export function renderK8s(cfg: ResolvedConfig, podCfg: ResolvedConfig, timing: PodTiming, files: ExportFiles, o: K8sOptions): Manifest[] {
  const bytes = Buffer.byteLength(files.config) + Object.values(files.handlers).reduce((a, t) => a + Buffer.byteLength(t), 0);
  if (bytes > CONFIGMAP_MAX_BYTES) {
    throw new FaasflowError('CONFIG', `the config and bundled handlers take ${bytes} bytes, more than a ConfigMap holds (1 MiB): bake the handlers into an image instead (a Dockerfile FROM faasflow's that copies them) and keep only the config here`);
  }
  const hash = configHash(files);
  const selector = { 'app.kubernetes.io/name': 'faasflow', 'app.kubernetes.io/instance': o.name };
  const labels = { ...selector, 'app.kubernetes.io/managed-by': 'faasflow-export' };
  const meta = (name: string) => ({ name, ...(o.namespace ? { namespace: o.namespace } : {}), labels });
  const configMap = `${o.name}-config-${hash}`;
  const out: Manifest[] = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(configMap), immutable: true, data: { [CONFIG_FILE]: files.config, ...files.handlers } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(o.name),
      spec: {
        // No `replicas`: the ScaledObject owns the count (from minReplicaCount), so applying these
        // manifests again does not reset a scaled-out Deployment.
        selector: { matchLabels: selector },
        // A new pod is ready before an old one starts draining: capacity never drops in a rollout.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        minReadySeconds: 2,
        template: podTemplate({ cfg, podCfg, timing, name: o.name, image: o.image, cpu: o.cpu, labels, configMap, configHash: hash }),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(o.name),
      spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
    },
    // Evictions (node drains) take one pod at a time; with one replica that is an outage.
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(o.name), spec: { maxUnavailable: 1, selector: { matchLabels: selector } } },
    {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: meta(o.name),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: o.name },
        minReplicaCount: o.replicas,
        maxReplicaCount: o.maxReplicas,
        pollingInterval: 15,
        cooldownPeriod: 300,
        advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } } },
        triggers: [
          {
            type: 'prometheus',
            metricType: 'AverageValue',
            metadata: { serverAddress: o.prometheusUrl, query: inflightQuery(o), threshold: String(o.targetInflight ?? Math.max(1, Math.floor(0.7 * podConcurrency(podCfg)))) },
          },
        ],
      },
    },
  ];
  if (o.podMonitor) {
    out.push({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: meta(o.name),
      spec: { selector: { matchLabels: selector }, podMetricsEndpoints: [{ port: probePort(podCfg), path: '/metrics', interval: '15s' }] },
    });
  }
  return out;
}
