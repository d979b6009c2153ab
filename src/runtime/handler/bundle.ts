// Turns a handler's TypeScript source into one ESM file a container can import. Type-checking is
// in check.ts: TypeScript costs ~60 MiB, which the supervisor (that only bundles) should not carry.
import { createHash } from 'node:crypto';
import { createRequire, builtinModules } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { PACKAGE_ROOT } from '../../config/files.js';

export class HandlerError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(message);
    this.name = 'HandlerError';
    this.file = file;
  }
}

const builtins = new Set(builtinModules);

/** This package's own entry point, for handlers that import 'faasflow' without installing it. */
const SELF = path.join(PACKAGE_ROOT, 'dist', 'index.js');

/**
 * Dependencies stay outside the bundle (native ones like sharp cannot be bundled) but are resolved
 * from the handler's own directory, so the bundle can live in the runtime dir and still load them.
 */
function externalsFrom(source: string): esbuild.Plugin {
  const req = createRequire(source);
  return {
    name: 'faasflow-externals',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (path.isAbsolute(args.path)) return undefined;
        if (args.path.startsWith('node:') || builtins.has(args.path)) return { path: args.path, external: true };
        try {
          // An absolute file: URL works both when the bundle is imported as a file and when a
          // sandboxed container imports it from its source text (a data: module resolves nothing
          // relative, and cannot reach the runtime directory the bundle file is in).
          return { path: pathToFileURL(req.resolve(args.path)).href, external: true };
        } catch {
          // `import { … } from 'faasflow'` is this very package wherever the handler lives (npx
          // runs faasflow without a local install), as for the config and the type check.
          if (args.path === 'faasflow') return { path: pathToFileURL(SELF).href, external: true };
          return { errors: [{ text: `cannot find package '${args.path}' from ${path.dirname(source)}: install it there (npm install ${args.path})` }] };
        }
      });
    },
  };
}

function formatMessages(file: string, msgs: esbuild.Message[]): string {
  return msgs
    .map((m) => (m.location ? `${path.relative(process.cwd(), m.location.file) || file}:${m.location.line}:${m.location.column + 1}: ${m.text}` : m.text))
    .join('\n');
}

/** Bundles `source` into `outDir`; the file name carries a content hash so versions never collide. */
export async function bundleHandler(source: string, outDir: string): Promise<{ file: string }> {
  const abs = path.resolve(source);
  if (!fs.existsSync(abs)) throw new HandlerError(abs, `handler file not found: ${abs}`);
  let result: esbuild.BuildResult & { outputFiles: esbuild.OutputFile[] };
  try {
    result = await esbuild.build({
      entryPoints: [abs],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // The map's sources are relative to the working directory; its root makes them absolute, so
      // a stack trace mapped by the container (source-map.ts) names the file wherever it runs.
      // Their text stays out: a stack trace needs positions only, and the bundle stays small.
      sourcemap: 'inline',
      sourceRoot: `${process.cwd()}${path.sep}`,
      sourcesContent: false,
      logLevel: 'silent',
      plugins: [externalsFrom(abs)],
    });
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    throw new HandlerError(abs, failure.errors ? formatMessages(abs, failure.errors) : String(err));
  }
  const code = result.outputFiles[0].contents;
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 12);
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${path.basename(abs).replace(/\.[^.]+$/, '')}-${hash}.mjs`);
  fs.writeFileSync(file, code);
  return { file };
}
