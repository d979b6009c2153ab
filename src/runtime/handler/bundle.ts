// Turns a handler's TypeScript source into one ESM file a container can import, and checks it
// (syntax, types, a default-exported function) before anything is deployed.
import { createHash } from 'node:crypto';
import { createRequire, builtinModules } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import ts from 'typescript';

export class HandlerError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(message);
    this.name = 'HandlerError';
    this.file = file;
  }
}

const builtins = new Set(builtinModules);

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
          return { path: req.resolve(args.path), external: true };
        } catch {
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
      sourcemap: 'inline',
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

/** Diagnostics that only say the user's project has no type declarations installed. */
const MISSING_TYPES = new Set([2307, 7016, 2580, 2591, 2688, 2792, 2875]);

/**
 * Type-checks handler sources in one program. Throws a HandlerError listing every problem as
 * file:line:col, or when a module has no default-exported function.
 */
export function checkHandlers(sources: string[]): void {
  const files = sources.map((s) => path.resolve(s));
  for (const f of files) if (!fs.existsSync(f)) throw new HandlerError(f, `handler file not found: ${f}`);
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowJs: true,
    checkJs: false,
    esModuleInterop: true,
    allowImportingTsExtensions: true,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
  });
  const checker = program.getTypeChecker();
  const problems: string[] = [];
  for (const file of files) {
    const sf = program.getSourceFile(file);
    if (!sf) continue;
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].filter((d) => !MISSING_TYPES.has(d.code));
    for (const d of diags) {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      const loc = where ? `${path.relative(process.cwd(), file) || file}:${where.line + 1}:${where.character + 1}` : file;
      problems.push(`${loc}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
    const sym = checker.getSymbolAtLocation(sf);
    const def = sym ? checker.getExportsOfModule(sym).find((e) => e.escapedName === 'default') : undefined;
    if (!def) {
      problems.push(`${path.relative(process.cwd(), file) || file}: no default export: write \`export default async function (input: Uint8Array, ctx) { ... }\``);
    } else {
      const type = checker.getTypeOfSymbolAtLocation(def, sf);
      if (type.getCallSignatures().length === 0 && !(type.flags & ts.TypeFlags.Any)) {
        problems.push(`${path.relative(process.cwd(), file) || file}: the default export is not a function`);
      }
    }
  }
  if (problems.length) throw new HandlerError(files[0], problems.join('\n'));
}

export async function checkHandler(source: string): Promise<void> {
  checkHandlers([source]);
}
