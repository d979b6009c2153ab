#!/usr/bin/env node
// The `faasflow` command: oclif finds the commands in dist/commands (see package.json "oclif").
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

// oclif asks the passwd database for the user's shell (and Node for the home directory) when SHELL
// (HOME) is unset. A uid with no passwd entry (Kubernetes runAsUser, OpenShift's random uids) has
// neither, and the lookup throws before any command runs (oclif reads the home directory as it
// loads: hence the import below, after): give those a neutral value instead.
const passwd = (read) => {
  try {
    return read();
  } catch {
    return undefined;
  }
};
if (!process.env.SHELL && passwd(() => os.userInfo().shell) === undefined) process.env.SHELL = '/bin/sh';
if (!process.env.HOME && passwd(() => os.homedir()) === undefined) process.env.HOME = os.tmpdir();

// @oclif/core in one file (scripts/bundle-oclif.js writes it at build). The bundled commands take
// it from a global (scripts/bundle-commands.js); for every other `import … from '@oclif/core/…'`,
// each entry point goes into Node's module cache as the bundle's, so all of them get the same
// classes without loading oclif's files one by one.
const require = createRequire(import.meta.url);
const Module = require('node:module');
globalThis[Symbol.for('faasflow.import')] = (url) => import(url);
const entries = loadBundle(fileURLToPath(new URL('../dist/oclif-core.cjs', import.meta.url)));
if (entries) {
  globalThis[Symbol.for('faasflow.oclif')] = entries;
  // One resolution and the package's exports map, not a resolution per entry point.
  const pkg = path.dirname(require.resolve('@oclif/core/package.json'));
  const map = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).exports ?? {};
  // The bundle evaluates an entry point when it is first read (scripts/bundle-oclif.js): so does the
  // cache's copy, whose exports are the bundle's, read when a module imports that entry point.
  for (const sub of Object.keys(entries)) {
    const file = typeof map[`.${sub}`] === 'string' ? path.join(pkg, map[`.${sub}`]) : undefined;
    if (!file || Module._cache[file]) continue;
    const m = new Module(file);
    m.filename = file;
    m.paths = Module._nodeModulePaths(path.dirname(file));
    let exports;
    Object.defineProperty(m, 'exports', {
      configurable: true,
      enumerable: true,
      get: () => exports ?? entries[sub],
      set: (v) => {
        exports = v;
      },
    });
    m.loaded = true;
    Module._cache[file] = m;
  }
}

// The bundle's own entry point when there is one: import() would resolve the package and read and
// scan execute.js for its exports, only to hand back the cache's copy of the same object.
const { execute } = entries ? entries['/execute'] : await import('@oclif/core/execute');
await execute({ dir: import.meta.url });

/**
 * The bundle's exports, or undefined when it was not built. Compiled with V8's code cache
 * (`<bundle>.cache`, written at build by running a command with FAASFLOW_WRITE_CODE_CACHE set): the
 * functions a command runs are then not compiled again on every start. A cache V8 rejects (another
 * Node version) only costs the compile; a Node without USE_MAIN_CONTEXT_DEFAULT_LOADER (before
 * 20.12: the bundle's dynamic import() of the commands needs it) loads the bundle with require.
 */
function loadBundle(file) {
  let source;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const loader = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  if (loader === undefined) return require(file);
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    // none written: compile
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const m = new Module(file);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext()(m.exports, createRequire(file), m, file, path.dirname(file));
  m.loaded = true;
  if (process.env.FAASFLOW_WRITE_CODE_CACHE === cacheFile) process.once('exit', () => fs.writeFileSync(cacheFile, script.createCachedData()));
  return m.exports;
}
