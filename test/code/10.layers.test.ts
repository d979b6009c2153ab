// The source reads in one direction. Each directory of src/ is a layer; a module imports only from
// its own layer or the ones below, and no chain of imports comes back to where it started. A
// process entry (a main.ts) sits above everything: it may import any layer, nothing imports it.
// Checked over the TypeScript sources themselves, static and dynamic imports, `import type` too.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Lowest first. */
const LAYERS: string[][] = [
  // The shared vocabulary: paths and file names, the control protocol, the state file, errors, env names.
  ['common'],
  // The kernel's and the native module's face: segments, packets, sandbox, cgroups.
  ['shm', 'sys'],
  ['config'],
  ['observe'],
  // The processes: supervisor, gateway, container.
  ['runtime'],
  // What the CLI does: control an instance, export it, benchmark it.
  ['control', 'export', 'bench'],
  ['commands'],
  // The package's public face.
  ['index.ts'],
];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative module specifiers of every import, export-from and dynamic import in `file`. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*'(\.{1,2}\/[^']+)'|\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)|(?:^|\n)\s*import\s+'(\.{1,2}\/[^']+)'/g)) {
    out.push(m[1] ?? m[2] ?? m[3]);
  }
  return out;
}

function resolve(from: string, spec: string): string {
  return path.resolve(path.dirname(from), spec).replace(/\.js$/, '.ts');
}

const rel = (f: string) => path.relative(SRC, f);
const layerName = (f: string) => rel(f).split(path.sep)[0];
const rank = (f: string) => LAYERS.findIndex((l) => l.includes(layerName(f)));
const isEntry = (f: string) => path.basename(f) === 'main.ts';

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f).map((s) => resolve(f, s))]));

t.test('every source file belongs to a layer', async (t) => {
  t.same(files.filter((f) => rank(f) < 0).map(rel), [], `add new top-level directories to LAYERS in ${path.basename(fileURLToPath(import.meta.url))}`);
});

t.test('every relative import names a source file', async (t) => {
  const missing = [...graph].flatMap(([f, to]) => to.filter((x) => !graph.has(x)).map((x) => `${rel(f)} → ${rel(x)}`));
  t.same(missing, []);
});

t.test('no import goes up a layer', async (t) => {
  const up = [...graph].flatMap(([f, to]) => (isEntry(f) ? [] : to.filter((x) => rank(x) > rank(f)).map((x) => `${rel(f)} (${layerName(f)}) → ${rel(x)} (${layerName(x)})`)));
  t.same(up, [], 'move what both sides need down (src/common holds what every layer shares)');
});

t.test('nothing imports a process entry', async (t) => {
  const into = [...graph].flatMap(([f, to]) => to.filter(isEntry).map((x) => `${rel(f)} → ${rel(x)}`));
  t.same(into, []);
});

t.test('no import cycle', async (t) => {
  // Tarjan's strongly connected components: any component of more than one file is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      for (let w = ''; w !== v; ) {
        w = stack.pop()!;
        on.delete(w);
        scc.push(rel(w));
      }
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  t.same(cycles, [], 'each list is a set of modules that import each other in a circle');
});

t.test('the check sees what it checks', async (t) => {
  // A parser that found nothing would pass every rule above.
  t.ok(files.length > 50, `${files.length} source files`);
  t.ok([...graph.values()].reduce((a, to) => a + to.length, 0) > 200, 'imports found');
  t.ok(graph.get(path.join(SRC, 'commands', 'deploy.ts'))!.some((x) => rel(x).startsWith('runtime')), 'dynamic imports count');
});
