// export k8s from one config is the same bytes on every machine (a config without gateway.workers
// used to take it from the exporting machine's CPUs, so a CI export and a laptop export rolled the
// Deployment for nothing); every object and the autoscaler's query name a namespace; the flags that
// go into the manifests verbatim are checked; and the grace period covers a flow longer than any
// function (a stop finishes what it accepted, flows included).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import type { ResolvedConfig } from '../../src/config/types.js';
import { exportK8s } from '../../src/export/k8s/export.js';
import type { K8sOptions } from '../../src/export/k8s/manifests.js';
import { get } from './fixture.js';
import { checkManifests } from './k8s-check.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-k8sopts-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(path.join(dir, 'echo.ts'), 'export default async function (input: Uint8Array) { return input; }\n');
fs.writeFileSync(
  path.join(dir, 'faasflow.config.ts'),
  `export default {
  functions: [{ id: 1, name: 'echo', handler: './echo.ts', timeout: '10s' }, { id: 2, name: 'echo2', handler: './echo.ts', timeout: '10s' }],
  flows: [{ name: 'long', steps: ['echo', 'echo2'], timeout: '3m' }],
};
`,
);

const options: K8sOptions = { name: 'ff', namespace: 'default', image: 'faasflow:0.1.0', replicas: 2, maxReplicas: 8, cpu: '4', prometheusUrl: 'http://prometheus:9090', podMonitor: false };

t.test('the same config exports the same bytes with 2 and with 16 CPUs', async (t) => {
  const cfg = await loadConfig({ cwd: dir, instance: 'k8sopts' });
  t.ok(cfg.gateway.workersFromCpus, 'the config leaves gateway.workers to the CPUs');
  // What loadConfig resolves on a 2-CPU and on a 16-CPU machine.
  const on = (cpus: number): ResolvedConfig => ({ ...cfg, gateway: { ...cfg.gateway, workers: Math.max(1, Math.floor(cpus / 2)) } });
  const [small, big] = await Promise.all([exportK8s(on(2), options), exportK8s(on(16), options)]);
  t.equal(small.yaml, big.yaml, 'identical manifests');
  t.match(small.yaml, /gateway\.workers is 2 \(at most half of --cpu 4\)/, "the pod's gateways follow --cpu");
  const set = await exportK8s({ ...cfg, gateway: { ...cfg.gateway, workers: 1, workersFromCpus: false } }, options);
  t.match(set.yaml, /gateway\.workers is 1 /, 'a gateway.workers the config sets is kept (capped by --cpu)');
});

t.test('every object and the query name the namespace', async (t) => {
  const cfg = await loadConfig({ cwd: dir, instance: 'k8sopts' });
  const r = await exportK8s(cfg, options);
  t.ok(r.manifests.every((m) => get(m, 'metadata', 'namespace') === 'default'), 'metadata.namespace everywhere');
  const scaled = r.manifests.find((m) => m.kind === 'ScaledObject');
  t.match(get(scaled, 'spec', 'triggers', 0, 'metadata', 'query'), /\{namespace="default",pod=~/, 'the query matches the namespace');
});

t.test('flags that go into the manifests are checked', async (t) => {
  const cfg = await loadConfig({ cwd: dir, instance: 'k8sopts' });
  await t.rejects(exportK8s(cfg, { ...options, namespace: 'Prod_1' }), /--namespace Prod_1 is not a namespace name/);
  await t.rejects(exportK8s(cfg, { ...options, image: 'faasflow:has space' }), /--image faasflow:has space is not an image reference/);
  await t.rejects(exportK8s(cfg, { ...options, image: 'Registry/UPPER:1' }), /is not an image reference/);
  await t.rejects(exportK8s(cfg, { ...options, prometheusUrl: 'prometheus:9090' }), /--prometheus-url prometheus:9090 is not an http\(s\) URL/);
  await t.resolves(exportK8s(cfg, { ...options, image: 'registry.example:5000/team/faasflow:0.1.0@sha256:' + 'a'.repeat(64) }), 'a registry with a port, a path, a tag and a digest is an image');
});

t.test('the grace period covers the longest flow, not only the longest function', async (t) => {
  const cfg = await loadConfig({ cwd: dir, instance: 'k8sopts' });
  const r = await exportK8s(cfg, options);
  const grace = get(r.manifests.find((m) => m.kind === 'Deployment'), 'spec', 'template', 'spec', 'terminationGracePeriodSeconds') as number;
  t.ok(grace >= 180 + 11, `terminationGracePeriodSeconds ${grace} covers the 3-minute flow and the containers' stop`);
});

t.test('with gateway.admin, probes and scrapes go to the admin port, which the pod opens on its address', async (t) => {
  const cfg = await loadConfig({ cwd: dir, instance: 'k8sopts' });
  const r = await exportK8s({ ...cfg, gateway: { ...cfg.gateway, admin: { host: '127.0.0.1', port: 9090 } } }, { ...options, podMonitor: true });
  t.same(checkManifests(r.manifests), r.manifests.map(() => []), 'no schema error, no unknown field');
  const deployment = r.manifests.find((m) => m.kind === 'Deployment');
  const c = get(deployment, 'spec', 'template', 'spec', 'containers', 0);
  t.same(c.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'admin', containerPort: 9090, protocol: 'TCP' }], 'the container names the admin port');
  t.same([c.startupProbe.httpGet.port, c.readinessProbe.httpGet.port, c.livenessProbe.httpGet.port], ['admin', 'admin', 'admin'], 'every probe asks the admin port');
  t.equal(get(deployment, 'spec', 'template', 'metadata', 'annotations', 'prometheus.io/port'), '9090', 'the scrape annotation names it');
  t.equal(get(r.manifests.find((m) => m.kind === 'PodMonitor'), 'spec', 'podMetricsEndpoints', 0, 'port'), 'admin', 'the PodMonitor scrapes it');
  t.same(get(r.manifests.find((m) => m.kind === 'Service'), 'spec', 'ports').map((p: { targetPort: string }) => p.targetPort), ['http'], 'the Service does not route to it');
  const config = String(get(r.manifests.find((m) => m.kind === 'ConfigMap'), 'data', 'faasflow.config.mjs'));
  t.match(config, /"admin": \{\s*"host": "0\.0\.0\.0",\s*"port": 9090\s*\}/, "the pod's config listens for the kubelet and Prometheus on the pod's address");
  t.match(config, /gateway\.admin\.host is 0\.0\.0\.0 too/, 'and says why');
});

t.test('with gateway.auth the pod keeps checking callers, with the tokens from a Secret', async (t) => {
  const cfg = await loadConfig({ cwd: dir, instance: 'k8sopts' });
  const r = await exportK8s({ ...cfg, gateway: { ...cfg.gateway, auth: true, accessLog: false } }, options);
  t.same(checkManifests(r.manifests), r.manifests.map(() => []), 'no schema error, no unknown field');
  const config = String(get(r.manifests.find((m) => m.kind === 'ConfigMap'), 'data', 'faasflow.config.mjs'));
  t.match(config, /"auth": true/, "the pod's config asks for tokens");
  t.match(config, /"accessLog": false/, 'and keeps the access log setting');
  const pod = get(r.manifests.find((m) => m.kind === 'Deployment'), 'spec', 'template', 'spec');
  const c = get(pod, 'containers', 0);
  t.same(c.env.find((e: { name: string }) => e.name === 'FAASFLOW_STATE_DIR'), { name: 'FAASFLOW_STATE_DIR', value: '/var/lib/faasflow' });
  t.same(c.volumeMounts.find((m: { name: string }) => m.name === 'tokens'), { name: 'tokens', mountPath: '/var/lib/faasflow/tokens.json', subPath: 'tokens.json', readOnly: true }, 'tokens.json in the state directory');
  t.same(get(pod.volumes.find((v: { name: string }) => v.name === 'tokens'), 'secret', 'secretName'), 'ff-tokens', 'from the Secret <name>-tokens');
  t.ok(pod.volumes.some((v: { name: string; emptyDir?: object }) => v.name === 'state' && v.emptyDir), 'the state directory stays writable');
  const open = await exportK8s(cfg, options);
  t.notMatch(String(get(open.manifests.find((m) => m.kind === 'ConfigMap'), 'data', 'faasflow.config.mjs')), /"auth"/, 'without gateway.auth nothing changes');
});
