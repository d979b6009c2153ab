// Handlers bundled to travel without their source tree: one self-contained ESM file each, for a
// ConfigMap or another host. Unlike the supervisor's bundles (src/runtime/handler/bundle.ts), which
// point dependencies at absolute paths on this machine, these keep every package faasflow itself
// depends on as a bare import, resolved where faasflow is installed on the other side (the
// image's node_modules), and inline everything else.
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';
import * as esbuild from 'esbuild';
import { PACKAGE_ROOT } from '../config/load.js';
import type { FunctionConfig } from '../config/types.js';
import { FaasflowError } from '../common/errors.js';

/** Packages an installed faasflow brings along (sharp, zod, …): handlers may import them as they are. */
export function bundledPackages(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return ['faasflow', ...Object.keys(pkg.dependencies ?? {})];
}

function keepBare(packages: string[]): esbuild.Plugin {
  const keep = new Set([...packages, ...builtinModules]);
  return {
    name: 'faasflow-export-externals',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (path.isAbsolute(args.path)) return undefined;
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        // A package name is its first segment, or two for a scope: `sharp/lib/x` → `sharp`.
        const parts = args.path.split('/');
        const name = args.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
        return keep.has(name) ? { path: args.path, external: true } : undefined;
      });
    },
  };
}

/** A handler, bundled: the text of one ESM module. */
export async function bundleForExport(f: FunctionConfig): Promise<string> {
  try {
    const text = await build(f.handler, '');
    // A bundled CommonJS dependency that require()s Node's own modules gets esbuild's __require
    // shim, which needs a real `require`; only then is one declared (a handler may declare its own).
    return text.includes('__require(') ? await build(f.handler, "import { createRequire as __ffCreateRequire } from 'node:module';\nconst require = __ffCreateRequire(import.meta.url);") : text;
  } catch (err) {
    const msgs = (err as esbuild.BuildFailure).errors ?? [];
    const first = msgs[0];
    const where = first?.location ? `${path.relative(process.cwd(), first.location.file) || first.location.file}:${first.location.line}: ` : '';
    const native = msgs.some((m) => /\.node\b|No loader is configured/.test(m.text));
    const fix = native
      ? 'a package with native code cannot travel in a bundle: install it in the image (a Dockerfile FROM the faasflow image that runs `npm install <package>` in /app) and it resolves there'
      : 'fix the handler so that `faasflow up` accepts it, then export again';
    throw new FaasflowError('HANDLER', `cannot bundle function ${f.id} (${f.name}) from ${f.handler}: ${where}${first?.text ?? String(err)}; ${fix}`);
  }
}

async function build(entry: string, banner: string): Promise<string> {
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    ...(banner ? { banner: { js: banner } } : {}),
    plugins: [keepBare(bundledPackages())],
  });
  return r.outputFiles[0].text;
}
