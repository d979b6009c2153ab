#!/usr/bin/env node
// Rewrites the container's entry, dist/runtime/container/main.js, as one ES module, after tsc: a
// replica that starts without a spare otherwise loads some fifty modules of dist/ one by one (each
// resolved, read, compiled and linked) before it can map its segment, and that is on the path of
// the request waiting for it (issue 22). Only node: builtins stay imports; the container loads no
// package at start (test/code/20), and one that appears is bundled, not looked up at each start.
// A module that finds files by its own location (import.meta.url: the native addons in
// build/Release) is given the URL it had before, relative to the bundle's, so the addons resolve
// as they did and the package still works wherever it is installed. A dynamic import of one of
// ours is rewritten to the same file, named from the bundle's directory.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const entry = path.join(dist, 'runtime', 'container', 'main.js');
const outDir = path.dirname(entry);

/** `to` as a relative URL from the bundle's directory. */
const fromBundle = (to) => {
  const rel = path.relative(outDir, to).split(path.sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
};

const ownModules = {
  name: 'container-modules',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, external: true }));
    b.onResolve({ filter: /^\./ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      return { path: fromBundle(path.resolve(args.resolveDir, args.path)), external: true };
    });
    b.onLoad({ filter: /\.js$/ }, (args) => {
      let text = fs.readFileSync(args.path, 'utf8');
      if (args.path !== entry && text.includes('import.meta.url')) {
        text = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle(args.path))}, import.meta.url).href`);
      }
      return { contents: text, loader: 'js', resolveDir: path.dirname(args.path) };
    });
  },
};

const r = await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  write: false,
  outfile: entry,
  sourcemap: 'linked',
  plugins: [ownModules],
  logLevel: 'error',
  metafile: true,
});
for (const f of r.outputFiles) fs.writeFileSync(f.path, f.text);
const inputs = Object.keys(r.metafile.inputs);
const bare = Object.values(r.metafile.outputs).flatMap((o) => o.imports).filter((i) => i.external && !i.path.startsWith('node:') && !i.path.startsWith('.'));
if (bare.length) throw new Error(`dist/runtime/container/main.js would import ${bare.map((i) => i.path).join(', ')} at start: only node: builtins may stay imports`);
const kib = (r.outputFiles.find((f) => f.path === entry).text.length / 1024).toFixed(0);
console.log(`dist/runtime/container/main.js: ${inputs.length} modules in one (${kib} KiB)`);
