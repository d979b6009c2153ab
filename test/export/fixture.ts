// A project to export: two functions in two domains (one with a local helper module, one importing
// a package faasflow itself depends on, with an env variable), a flow through both, and settings a
// pod must not inherit as they are (CPU pinning, a drain delay too short for a cluster).
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { BIN, type CliResult, type Project } from '../cli/helpers.js';

export const TAG = "export const tag = (s: string): string => `[${s}]`;\n";
export const ECHO = "import { tag } from './lib/tag.ts';\nexport default async function (input: Uint8Array): Promise<string> {\n  return tag(new TextDecoder().decode(input));\n}\n";
export const SHOUT =
  "import { z } from 'zod';\nexport default async function (input: Uint8Array): Promise<string> {\n  return z.string().parse(new TextDecoder().decode(input)).toUpperCase() + (process.env.SUFFIX ?? '?');\n}\n";

export function writeFixture(p: Project, o: { port?: number; shout?: string } = {}): void {
  fs.mkdirSync(path.join(p.dir, 'lib'), { recursive: true });
  p.write('lib/tag.ts', TAG);
  p.write('echo.ts', ECHO);
  p.write('shout.ts', o.shout ?? SHOUT);
  p.write(
    'faasflow.config.ts',
    `import { defineConfig } from 'faasflow';
export default defineConfig({
  gateway: { port: ${o.port ?? p.port}, drainDelay: '1s', workers: 4 },
  segment: { size: '64MiB' },
  cpus: [0],
  functions: [
    { id: 1, name: 'echo', handler: './echo.ts', replicas: 2 },
    { id: 2, name: 'shout', handler: './shout.ts', memoryLimit: '96MiB', timeout: '20s', env: { SUFFIX: '!' } },
  ],
  flows: [{ name: 'pipeline', steps: ['echo', 'shout'] }],
});
`,
  );
}

/** Every document of a YAML stream, as plain objects. */
export function documents(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`YAML error: ${d.errors[0].message}`);
    return d.toJS() as Record<string, unknown>;
  });
}

/** A path into a plain object (`get(o, 'spec', 'template', 'spec')`), for reading manifests in tests. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function get(o: unknown, ...keys: (string | number)[]): any {
  let cur = o;
  for (const k of keys) cur = (cur as Record<string | number, unknown> | undefined)?.[k];
  return cur;
}

/**
 * `faasflow <args> --instance <instance>` in the project, as a user runs it: without the loader
 * hooks the test runner puts in NODE_OPTIONS of every process it starts (they double a Node
 * process's private memory, and a measured process must be what a user or a pod runs).
 */
export async function cliPlain(p: Project, args: string[]): Promise<CliResult> {
  const r = await execa('env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args, '--instance', p.instance], {
    cwd: p.dir,
    env: { FAASFLOW_RUNTIME_DIR: p.runtimeDir, FAASFLOW_STATE_DIR: path.join(p.dir, 'state'), NO_COLOR: '1' },
    reject: false,
    stdin: 'ignore',
    timeout: 120_000,
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
