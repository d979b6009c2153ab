// `faasflow export k8s` on a real project: every manifest passes its kind's JSON schema and has no
// unknown field (and the check itself catches a misspelled field and a bad quantity); the pod's
// figures follow from the config; a changed handler is a new ConfigMap and a rollout, an unchanged
// one the same bytes; and the ConfigMap's files are what a real faasflow serves from.
import t from 'tap';
import { checkManifests } from './k8s-check.js';
import { documents, get, writeFixture } from './fixture.js';
import { project } from '../cli/helpers.js';

const KINDS = ['ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget', 'ScaledObject', 'PodMonitor'];

t.test('every exported manifest passes its schema and has no unknown field', async (t) => {
  const p = await project(t, 'k8s');
  writeFixture(p);
  const r = await p.cli(['export', 'k8s', '--image', 'registry.example/faasflow:1', '--namespace', 'fn', '--pod-monitor', '--cpu', '2']);
  t.equal(r.code, 0, r.stderr);
  const docs = documents(r.stdout);
  t.same(docs.map((d) => d.kind), KINDS, 'one document per object, in apply order');
  t.same(checkManifests(docs), docs.map(() => []), 'no schema error, no unknown field');
  const json = await p.cli(['export', 'k8s', '--image', 'registry.example/faasflow:1', '--namespace', 'fn', '--pod-monitor', '--cpu', '2'], { json: true });
  t.same((JSON.parse(json.stdout) as { manifests: unknown[] }).manifests, docs, '--json gives the objects the YAML spells');
  t.ok(docs.every((d) => get(d, 'metadata', 'namespace') === 'fn'), 'every object in --namespace');

  t.test('the check catches a misspelled field and a bad quantity', async (t) => {
    const deployment = structuredClone(docs[1]);
    const pod = get(deployment, 'spec', 'template', 'spec');
    pod.terminationGracePeriodSecond = pod.terminationGracePeriodSeconds;
    delete pod.terminationGracePeriodSeconds;
    const scaled = structuredClone(docs[4]);
    get(scaled, 'spec').minReplicaCounts = 2;
    const memory = structuredClone(docs[1]);
    get(memory, 'spec', 'template', 'spec', 'containers', 0, 'resources', 'limits').memory = '674 MiB';
    const shm = structuredClone(docs[1]);
    get(shm, 'spec', 'template', 'spec', 'volumes', 1, 'emptyDir').sizeLimit = 'lots';
    const [typo, crdTypo, badMemory, badSize] = checkManifests([deployment, scaled, memory, shm]);
    t.match(typo.join('\n'), /terminationGracePeriodSecond.*does not exist in type 'IPodSpec'/, 'a misspelled pod field');
    t.match(crdTypo.join('\n'), /minReplicaCounts.*does not exist/, 'a misspelled field of the KEDA CRD');
    t.match(badMemory.join('\n'), /limits\/memory must match format "quantity"/, 'a memory limit that is not a quantity');
    t.match(badSize.join('\n'), /sizeLimit must match format "quantity"/, 'an emptyDir size that is not a quantity');
  });

  t.test("the pod's figures follow from the config", async (t) => {
    const [cm, deployment, , pdb, scaled] = docs;
    const pod = get(deployment, 'spec', 'template', 'spec');
    const c = get(pod, 'containers', 0);
    t.same(c.args.slice(0, 4), ['up', '--foreground', '--log-format', 'json'], 'faasflow up in the foreground, JSON lines');
    t.equal(get(deployment, 'spec', 'replicas'), undefined, 'the ScaledObject owns the replica count');
    t.equal(get(scaled, 'spec', 'minReplicaCount'), 2, '--replicas default is the floor');
    t.equal(get(scaled, 'spec', 'maxReplicaCount'), 8, '4 × --replicas is the ceiling');
    const shm = pod.volumes.find((v: { name: string }) => v.name === 'shm');
    t.same(shm.emptyDir.medium, 'Memory', '/dev/shm is memory-backed');
    const mi = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1]);
    // Only the runtime segment (1.4 MiB: 128 process slots, 64 functions' stats) is in /dev/shm:
    // the domain segments are memfds, counted in the memory limit below.
    t.equal(mi(shm.emptyDir.sizeLimit), 2, '/dev/shm holds the runtime segment, rounded up to a MiB');
    const limit = mi(c.resources.limits.memory);
    t.equal(c.resources.requests.memory, c.resources.limits.memory, 'memory request = limit: the pod is not overcommitted');
    // segments 131 (a 64 MiB budget and its tables for each of 2 domains, segment.size 64 MiB split,
    // each at least 64 MiB, + the runtime segment) + code 64 + cli 48 + supervisor 48 + 1 gateway 64 + echo 3 × 64 + shout 2 × 96
    t.equal(limit, 131 + 64 + 48 + 48 + 64 + 3 * 64 + 2 * 96, 'memory limit = segments + processes (replicas + 1, memoryLimit where larger)');
    const grace = pod.terminationGracePeriodSeconds;
    // drain 5 s (1 s configured, raised) + the longest request (the pipeline flow: echo's default
    // 30 s + shout's 20 s) + 3 s past its deadline + shutdownTimeout 10 s for the gateway to exit,
    // then the containers' stop (the longest function's 30 s + 3 s + 10 s) + 5 s
    t.equal(grace, 5 + (50 + 3 + 10) + (30 + 3 + 10) + 5, 'grace covers the drain, the longest request (a flow) and the containers stop');
    t.ok(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold > grace, 'liveness cannot trip during a stop');
    t.same([c.readinessProbe.httpGet.path, c.readinessProbe.failureThreshold], ['/healthz', 1], 'readiness follows /healthz at once');
    t.equal(c.startupProbe.httpGet.path, '/healthz', 'started once every function has a ready replica');
    t.equal(c.livenessProbe.httpGet.path, '/livez', 'liveness asks only whether the gateway answers: a function without a replica restarts nothing');
    t.equal(pod.shareProcessNamespace, true, 'the pause process reaps orphans');
    t.same([pod.securityContext.runAsNonRoot, c.securityContext.readOnlyRootFilesystem, c.securityContext.allowPrivilegeEscalation], [true, true, false]);
    t.equal(pod.volumes[0].configMap.name, get(cm, 'metadata', 'name'), 'the pod mounts this ConfigMap');
    t.equal(get(cm, 'immutable'), true);
    t.equal(get(deployment, 'spec', 'template', 'metadata', 'annotations', 'prometheus.io/port'), String(p.port));
    t.equal(get(pdb, 'spec', 'maxUnavailable'), 1);
    const trigger = get(scaled, 'spec', 'triggers', 0);
    t.match(trigger.metadata.query, /^sum\(faasflow_requests_in_flight\{namespace="fn",pod=~"t.*-\[a-z0-9\]\+-\[a-z0-9\]\+"\}\)$/, 'the query sums in-flight requests over the pods');
    // A pod works on 2 × 16 + 1 × 16 = 48 requests at once; the target is 70 % of it.
    t.equal(trigger.metadata.threshold, '33');
    const config = String(get(cm, 'data', 'faasflow.config.mjs'));
    t.match(config, /"workers": 1[,\s]/, 'gateway.workers capped at half of --cpu 2');
    t.match(config, /"drainDelay": 5000,/, 'the drain delay raised to what a Service needs');
    t.match(config, /raised from 1000/, 'and the config says so');
    t.notMatch(config, /"cpus"/, 'no CPU pinning in a pod');
    t.match(String(get(cm, 'data', 'fn-2-shout.mjs')), /from "zod"/, "faasflow's own dependencies stay imports");
    t.match(String(get(cm, 'data', 'fn-1-echo.mjs')), /`\[\$\{s\}\]`/, 'local modules are bundled in');
  });
});

t.test('a changed handler is a new ConfigMap and a new pod template; an unchanged one is the same bytes', async (t) => {
  const p = await project(t, 'k8sh');
  writeFixture(p);
  const a = await p.cli(['export', 'k8s']);
  const b = await p.cli(['export', 'k8s']);
  t.equal(a.code, 0, a.stderr);
  t.equal(b.stdout, a.stdout, 'the same config exports the same bytes');
  writeFixture(p, { shout: "export default async function (input: Uint8Array): Promise<string> {\n  return 'v2 ' + input.length;\n}\n" });
  const c = await p.cli(['export', 'k8s']);
  const [cmA, depA] = documents(a.stdout);
  const [cmC, depC] = documents(c.stdout);
  t.not(get(cmC, 'metadata', 'name'), get(cmA, 'metadata', 'name'), 'a new ConfigMap name');
  const hash = (d: unknown) => get(d, 'spec', 'template', 'metadata', 'annotations', 'faasflow.dev/config-hash');
  t.not(hash(depC), hash(depA), 'a new pod template: the Deployment rolls');
});

t.test('bad flags and a broken handler are refused with the fix', async (t) => {
  const p = await project(t, 'k8se');
  writeFixture(p, { shout: 'export default async function (input: Uint8Array) {\n  return input +;\n}\n' });
  const broken = await p.cli(['export', 'k8s']);
  t.equal(broken.code, 1);
  t.match(broken.stderr, /cannot bundle function 2 \(shout\).*shout\.ts:2/, 'names the function and the line');
  writeFixture(p);
  const cpu = await p.cli(['export', 'k8s', '--cpu', 'lots']);
  t.match(cpu.stderr, /--cpu lots is not a CPU quantity: write e\.g\. 1, 2 or 500m/);
  const floor = await p.cli(['export', 'k8s', '--replicas', '3', '--max-replicas', '2']);
  t.match(floor.stderr, /--max-replicas 2 is below --replicas 3/);
  const name = await p.cli(['export', 'k8s', '--name', 'Bad_Name']);
  t.match(name.stderr, /--name Bad_Name is not a DNS label/);
});
