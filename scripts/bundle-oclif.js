#!/usr/bin/env node
// Writes dist/oclif-core.cjs after each build: @oclif/core and its dependencies as one file. Loaded
// module by module they are ~150 files, and resolving, reading and compiling each one is most of
// what `faasflow ps` waits for before it does anything. bin/run.js puts the bundle's copy of each
// @oclif/core entry point into Node's module cache, so the commands' `import … from
// '@oclif/core/flags'` get the very classes the bundle runs (one oclif, not two); without the file
// (a build that skipped this step) everything loads from node_modules as before.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Every entry point @oclif/core's package.json exports (bin/run.js maps each one). */
const SUBPATHS = ['', '/args', '/command', '/config', '/errors', '/execute', '/flags', '/flush', '/handle', '/help', '/interfaces', '/logger', '/parser', '/performance', '/run', '/settings', '/util/ids', '/ux'];

// Each entry point is evaluated when first asked for (a getter; esbuild's module wrappers run once):
// a command that never shows help or a table does not run oclif's help and ux modules at start.
// oclif sorts each plugin's commands by id with localeCompare: the process's first localeCompare
// sets up ICU's collator for the locale, ~10 ms of CPU (measured: 9.7–10 ms on Node 20 here, then
// 0.15 ms), every start of every command, for a list whose order the ids' code units give as
// well. The bundle sorts by code units instead, and the build checks that this gives the very
// order localeCompare gives for the manifest's ids (it would not for, say, ids differing in case).
const SORT_BY_LOCALE = '.sort((a, b) => a.id.localeCompare(b.id));';
const SORT_BY_CODE_UNITS = '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));';
const ids = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'oclif.manifest.json'), 'utf8')).commands);
const byLocale = [...ids].sort((a, b) => a.localeCompare(b));
const byCodeUnits = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
if (byLocale.join('\n') !== byCodeUnits.join('\n')) throw new Error(`the manifest's command ids sort differently by locale and by code units (${byLocale.join(', ')}): bundle-oclif.js cannot replace oclif's localeCompare`);
const sortByCodeUnits = {
  name: 'sort-commands-by-code-units',
  setup(b) {
    b.onLoad({ filter: /[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/ }, (args) => {
      const text = fs.readFileSync(args.path, 'utf8');
      if (text.split(SORT_BY_LOCALE).length !== 2) throw new Error(`${args.path}: oclif no longer sorts commands with "${SORT_BY_LOCALE}"; see bundle-oclif.js`);
      return { contents: text.replace(SORT_BY_LOCALE, SORT_BY_CODE_UNITS), loader: 'js' };
    });
  },
};

const contents = `module.exports = {\n${SUBPATHS.map((s) => `  get ${JSON.stringify(s)}() {\n    return require(${JSON.stringify(`@oclif/core${s}`)});\n  },`).join('\n')}\n};\n`;
const out = path.join(root, 'dist', 'oclif-core.cjs');
const result = await build({
  stdin: { contents, resolveDir: root, sourcefile: 'oclif-entry.cjs', loader: 'js' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: out,
  // oclif loads commands, hooks and plugins by path at run time: those stay dynamic. It reads a
  // TypeScript project's tsconfig with the compiler (9 MB) only in development: never bundled.
  external: ['typescript', 'ts-node', 'tsx'],
  // Half the bytes to read and compile on every start; oclif's own frames in a stack trace lose their names.
  minify: true,
  legalComments: 'none',
  logLevel: 'error',
  metafile: true,
  write: false,
  plugins: [sortByCodeUnits],
});
// bin/run.js compiles the bundle as a vm.Script to use V8's code cache, and a script given a code
// cache loses its dynamic import() (Node 20 throws ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING): oclif's
// import() of the commands goes through a function bin/run.js defines, where import() works.
const text = result.outputFiles[0].text.replace(/(?<![\w$.'"`])import\(/g, 'globalThis[Symbol.for("faasflow.import")](');
fs.writeFileSync(out, text);
// The code cache: V8's compiled form of every function a command runs, taken from a real run
// (`ps` of an instance that does not exist runs oclif's whole start and the command's error path).
const cache = `${out}.cache`;
fs.rmSync(cache, { force: true });
spawnSync(process.execPath, [path.join(root, 'bin', 'run.js'), 'ps', '--instance', 'faasflow-build-code-cache'], { env: { ...process.env, FAASFLOW_WRITE_CODE_CACHE: cache, FAASFLOW_RUNTIME_DIR: path.join(root, 'dist', '.no-instance') }, stdio: 'ignore' });
const inputs = Object.keys(result.metafile.inputs).length;
console.log(`${path.relative(root, out)}: @oclif/core and its dependencies, ${inputs} files in one (${(text.length / 1024).toFixed(0)} KiB); code cache: ${fs.existsSync(cache) ? `${(fs.statSync(cache).size / 1024).toFixed(0)} KiB` : 'not written'}`);
