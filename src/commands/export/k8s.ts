import fs from 'node:fs';
import { SECRET_KEY, TOKENS_KEY, secretNames, tokensSecret } from '../../export/k8s/pod.js';
import { stateDirFor, stateFiles } from '../../common/state-dir.js';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { loadConfig } from '../../config/load.js';
import { FaasflowCommand } from '../../control/command.js';
import { checkInstanceName, instancePaths, runtimeDirFor } from '../../common/paths.js';
import { readJson } from '../../common/state.js';
import { exportK8s, objectName } from '../../export/k8s/export.js';
import type { Manifest } from '../../export/k8s/manifests.js';

export interface ExportK8sResult {
  manifests: Manifest[];
  /** With --files: the files written (the ConfigMap's content). */
  files?: string[];
  /** Functions the instance serves from `faasflow deploy` (new ids, or new versions of the config's): not exported. */
  notExported: { id: number; name: string; source: string }[];
}

export default class ExportK8s extends FaasflowCommand {
  static override summary = 'Print Kubernetes manifests (YAML) for running this config with one faasflow instance per pod.';
  static override description =
    'A ConfigMap with the config and the bundled handlers, a Deployment (faasflow up --foreground; /dev/shm sized for the segments; a memory limit over the segments and the processes; startup and readiness probes on /healthz, which is 200 once every function has a ready replica and 503 during a drain; liveness on /livez), a Service, a PodDisruptionBudget and a KEDA ScaledObject on the requests in flight per pod. Apply with kubectl apply -f -.';
  static override examples = [
    '<%= config.bin %> export k8s --image registry.example/faasflow:0.1.0 > faasflow.yaml',
    '<%= config.bin %> export k8s --image ghcr.io/me/faasflow:1 --replicas 3 --namespace fn | kubectl apply -f -',
  ];
  static override flags = {
    image: Flags.string({ description: 'the faasflow image (built from the Dockerfile)', default: 'faasflow:latest' }),
    replicas: Flags.integer({ description: 'pods to start with; the autoscaler never goes below it', default: 2, min: 1 }),
    'max-replicas': Flags.integer({ description: 'most pods the autoscaler starts (default: 4 × --replicas)', min: 1 }),
    namespace: Flags.string({ description: 'namespace of every object and of the autoscaler\'s query', default: 'default' }),
    name: Flags.string({ description: 'name of every object (default: the instance name, or "faasflow")' }),
    cpu: Flags.string({ description: 'CPU request per pod; gateway.workers is capped at half of it', default: '1' }),
    'prometheus-url': Flags.string({ description: 'Prometheus the autoscaler queries', default: 'http://prometheus-operated.monitoring.svc:9090' }),
    'target-inflight': Flags.integer({ description: 'requests in flight per pod the autoscaler aims for (default: 70 % of a pod\'s replicas × concurrency)', min: 1 }),
    'pod-monitor': Flags.boolean({ description: 'also print a prometheus-operator PodMonitor' }),
    files: Flags.string({ description: 'instead of the manifests, write the ConfigMap\'s files (faasflow.config.mjs and the bundled handlers) into this directory: for docker run -v DIR:/app/etc' }),
  };

  async run(): Promise<ExportK8sResult> {
    const { flags } = await this.parse(ExportK8s);
    const instance = checkInstanceName(flags.instance);
    const cfg = await loadConfig({ cwd: process.cwd(), file: flags.config, instance });
    const name = flags.name ?? objectName(instance);
    const r = await exportK8s(cfg, {
      name,
      namespace: flags.namespace,
      image: flags.image,
      replicas: flags.replicas,
      maxReplicas: flags['max-replicas'] ?? 4 * flags.replicas,
      cpu: flags.cpu,
      prometheusUrl: flags['prometheus-url'],
      ...(flags['target-inflight'] ? { targetInflight: flags['target-inflight'] } : {}),
      podMonitor: flags['pod-monitor'],
    });
    // A pod runs the config; what `faasflow deploy` added to this machine's instance is not in it.
    const notExported = deployed(instancePaths(instance, runtimeDirFor(instance, cfg.runtimeDir)).deployments);
    if (notExported.length) {
      const inConfig = new Set(cfg.functions.map((f) => f.id));
      const what = notExported.map((f) => `${f.id} (${f.name}, ${f.source}${inConfig.has(f.id) ? ': the config has another version' : ''})`).join(', ');
      this.warn(`instance "${instance}" serves function(s) ${what} from \`faasflow deploy\`; the manifests have the config's functions only. Put them in ${flags.config ?? 'faasflow.config.ts'} to run them in the pods.`);
    }
    const secrets = secretNames(cfg);
    if (secrets.length) this.warn(`the pods mount Kubernetes Secret(s) ${secrets.join(', ')} (key "${SECRET_KEY}"); create each in the namespace first: ${secrets.map((n) => `kubectl create secret generic ${n} --from-file=${SECRET_KEY}=FILE`).join('; ')}`);
    if (cfg.gateway.auth) this.warn(`gateway.auth is on: the pods read the tokens' hashes from Kubernetes Secret ${tokensSecret(name)} (key "${TOKENS_KEY}"); create it from this machine's tokens first: kubectl create secret generic ${tokensSecret(name)} --from-file=${TOKENS_KEY}=${stateFiles(stateDirFor(instance)).tokens} (after a change: kubectl rollout restart deployment/${name})`);
    if (flags.files) {
      const files = writeFiles(r.manifests, flags.files);
      if (!this.jsonEnabled()) this.log(`wrote ${files.join(', ')}`);
      return { manifests: r.manifests, files, notExported };
    }
    if (!this.jsonEnabled()) process.stdout.write(r.yaml);
    return { manifests: r.manifests, notExported };
  }
}

/** The ConfigMap's data as files in `dir` (created if missing), as the pod sees them in /app/etc. */
function writeFiles(manifests: Manifest[], dir: string): string[] {
  const cm = manifests.find((m) => m.kind === 'ConfigMap');
  const data = cm && 'data' in cm ? (cm.data ?? {}) : {};
  fs.mkdirSync(dir, { recursive: true });
  return Object.entries(data).map(([name, text]) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  });
}

/** The functions the instance's deployments file records (what `faasflow deploy` put in place). */
function deployed(file: string): { id: number; name: string; source: string }[] {
  const f = readJson<{ functions?: { id?: unknown; name?: unknown; source?: unknown }[] }>(file);
  return (f?.functions ?? [])
    .filter((e) => typeof e.id === 'number')
    .map((e) => ({ id: e.id as number, name: String(e.name ?? ''), source: String(e.source ?? '') }));
}
