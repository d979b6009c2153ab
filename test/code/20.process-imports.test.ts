// The processes on the request path, the gateway and the containers, load no npm package at
// start: only faasflow's own modules and Node's. A package there costs on every request, not
// once: zod, reached through one helper of the config layer, took the gateway's GC from 5 % to
// 21 % of its CPU and halved its throughput of 100 KiB bodies (BENCHMARKS.md). What a process
// needs only now and then (prom-client for /metrics) it loads with a dynamic import when asked.
// Checked over the TypeScript sources: every static import that is not `import type`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const ENTRIES = ['runtime/gateway/main.ts', 'runtime/container/main.ts'];

/** Specifiers of the static, value-level imports and re-exports of `file`. */
function staticImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(import|export)\b(\s+type\b)?[^;'"]*?from\s*'([^']+)'|(?:^|\n)\s*import\s+'([^']+)'/g)) {
    if (m[2]) continue; // import type: erased at build
    out.push(m[3] ?? m[4]);
  }
  return out;
}

/** Each package reached from `entry`, with the chain of modules that reaches it. */
function packagesFrom(entry: string): string[] {
  const from = new Map<string, string | null>([[entry, null]]);
  const found: string[] = [];
  const chain = (f: string) => {
    const out: string[] = [];
    for (let x: string | null | undefined = f; x; x = from.get(x)) out.unshift(path.relative(SRC, x));
    return out.join(' → ');
  };
  for (const queue = [entry]; queue.length; ) {
    const f = queue.shift()!;
    for (const spec of staticImports(f)) {
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) {
        found.push(`${spec} ← ${chain(f)}`);
        continue;
      }
      const to = path.resolve(path.dirname(f), spec).replace(/\.js$/, '.ts');
      if (!from.has(to)) {
        from.set(to, f);
        queue.push(to);
      }
    }
  }
  return found;
}

for (const entry of ENTRIES) {
  t.test(`${entry} loads no package at start`, async (t) => {
    const file = path.join(SRC, entry);
    t.ok(fs.existsSync(file), 'the entry exists');
    t.same(packagesFrom(file), [], 'move what the process needs into a module without the package, or import the package dynamically where it is used');
  });
}

t.test('the check finds a package where there is one', async (t) => {
  // The CLI's entry reaches zod through the config loader: the walk must see it.
  t.match(packagesFrom(path.join(SRC, 'config/load.ts')).join('\n'), /^zod ← /m);
});
