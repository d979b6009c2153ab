#!/usr/bin/env node
// Rewrites the commands a user runs most (ps, logs, invoke, deploy, top) as one file each, after
// tsc and the manifest: `faasflow ps` otherwise loads some twenty modules of dist/ one by one (each
// resolved, read, compiled and linked as an ES module) before it asks the instance anything. Only
// faasflow's own modules are bundled: packages stay imports (oclif comes from its own bundle, see
// bundle-oclif.js), and so does every dynamic import(), rewritten to the same module from the
// command's directory, so what a command loads only when it needs it (the config loader, the
// TypeScript check, the dashboard) still loads only then. A bundled module finds files beside the
// package by its own location (import.meta.url): that holds because every such module sits two
// levels under dist/, as the commands do; the build fails if one does not.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const COMMANDS = ['ps', 'logs', 'invoke', 'deploy', 'top'];

const ownModules = {
  name: 'own-modules',
  setup(b) {
    // oclif: the bundle bin/run.js loaded (a global), else the package (a script importing the command).
    b.onResolve({ filter: /^@oclif\/core(\/|$)/ }, (args) => (args.namespace === 'oclif' ? { path: args.path, external: true } : { path: args.path.slice('@oclif/core'.length), namespace: 'oclif' }));
    b.onLoad({ filter: /.*/, namespace: 'oclif' }, (args) => ({
      contents: `module.exports = globalThis[Symbol.for('faasflow.oclif')]?.[${JSON.stringify(args.path)}] ?? require(${JSON.stringify(`@oclif/core${args.path}`)});`,
      loader: 'js',
    }));
    // Other packages (and node: builtins) stay imports.
    b.onResolve({ filter: /^[^./]/ }, (args) => ({ path: args.path, external: true }));
    // A dynamic import of one of ours: the same file, named from the command's directory.
    b.onResolve({ filter: /^\./ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const target = path.resolve(args.resolveDir, args.path);
      const rel = path.relative(path.join(dist, 'commands'), target);
      return { path: rel.startsWith('.') ? rel : `./${rel}`, external: true };
    });
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const text = fs.readFileSync(args.path, 'utf8');
      const depth = path.relative(dist, args.path).split(path.sep).length;
      if (text.includes('import.meta.url') && depth !== 2) throw new Error(`${path.relative(root, args.path)} uses import.meta.url ${depth - 1} level(s) under dist/: bundled into dist/commands/ it would look in the wrong place`);
      return { contents: text, loader: 'js' };
    });
  },
};

let files = 0;
for (const name of COMMANDS) {
  const file = path.join(dist, 'commands', `${name}.js`);
  const r = await build({
    entryPoints: [file],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    outfile: file,
    plugins: [ownModules],
    // The oclif fallback's require(), in an ES module.
    banner: { js: "import { createRequire as __ffRequire } from 'node:module';\nconst require = __ffRequire(import.meta.url);" },
    logLevel: 'error',
    metafile: true,
  });
  fs.writeFileSync(file, r.outputFiles[0].text);
  files += Object.keys(r.metafile.inputs).length;
}
console.log(`dist/commands: ${COMMANDS.join(', ')} bundled (${files} modules in ${COMMANDS.length} files)`);
