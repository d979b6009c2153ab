// Checks a Kubernetes manifest the way an API server with strict field validation would: the JSON
// schema of its kind (kubernetes-models' validate(): required fields, types, enums, quantity
// formats) and no field the kind does not have. The schemas leave unknown fields alone, so those
// are found by the TypeScript compiler against the models' interfaces, generated from the same
// OpenAPI documents: an object literal with a property its type lacks is an error at any depth.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

/** Where the models resolve from: the repository's node_modules. */
const HERE = path.dirname(fileURLToPath(import.meta.url));

interface Kind {
  model: new (data: never) => { validate(): void };
  module: string;
  type: string;
}

/** Any object that may be a manifest: its kind picks the schema. */
export type Manifestish = object & { kind?: unknown };

const KINDS: Record<string, Kind> = {
  ConfigMap: { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  Service: { model: Service, module: 'kubernetes-models/v1/Service', type: 'IService' },
  Deployment: { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  PodDisruptionBudget: { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
  ScaledObject: { model: ScaledObject, module: '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject', type: 'IScaledObject' },
  PodMonitor: { model: PodMonitor, module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor', type: 'IPodMonitor' },
};

/** The schema's complaint about `m`, or undefined when it passes. */
export function schemaErrors(m: Manifestish): string | undefined {
  const k = KINDS[String(m.kind)];
  if (!k) return `no schema for kind ${m.kind}`;
  try {
    new k.model(m as never).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Unknown fields in each manifest, as the compiler words them (one list per manifest). One program
 * for all of them: building it is the slow part.
 */
export function unknownFields(manifests: Manifestish[]): string[][] {
  // Inside the repository, so the models resolve from its node_modules.
  const file = path.join(HERE, '__manifests__.ts');
  const kinds = [...new Set(manifests.map((m) => String(m.kind)))].filter((k) => KINDS[k]);
  const imports = kinds.map((k) => `import type { ${KINDS[k].type} } from '${KINDS[k].module}';`);
  // Where each manifest's declaration starts in the text, to give each diagnostic to its manifest.
  const starts: number[] = [];
  let text = imports.map((l) => `${l}\n`).join('');
  manifests.forEach((m, i) => {
    starts.push(text.length);
    const k = KINDS[String(m.kind)];
    text += `export const m${i}: ${k ? k.type : 'never'} = ${JSON.stringify(m, null, 1)};\n`;
  });
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, types: [] };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  const getSource = host.getSourceFile.bind(host);
  host.readFile = (f) => (f === file ? text : read(f));
  host.fileExists = (f) => f === file || exists(f);
  host.getSourceFile = (f, lang, ...rest) => (f === file ? ts.createSourceFile(f, text, lang) : getSource(f, lang, ...rest));
  const program = ts.createProgram([file], options, host);
  const out: string[][] = manifests.map(() => []);
  const source = program.getSourceFile(file)!;
  for (const d of ts.getPreEmitDiagnostics(program, source)) {
    const at = d.start ?? 0;
    let i = starts.length - 1;
    while (i > 0 && starts[i] > at) i--;
    out[Math.max(0, i)].push(ts.flattenDiagnosticMessageText(d.messageText, ' '));
  }
  return out;
}

/** Every problem with each manifest: the schema's, then unknown fields. Empty lists mean valid. */
export function checkManifests(manifests: Manifestish[]): string[][] {
  const unknown = unknownFields(manifests);
  return manifests.map((m, i) => [...(schemaErrors(m) ? [schemaErrors(m)!] : []), ...unknown[i]]);
}
