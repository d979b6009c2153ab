// Checks handler sources before anything is deployed: syntax, TypeScript types, and a
// default-exported function. Loads the TypeScript compiler: the CLI imports this when the instance
// cannot check for it, and the supervisor's type-checker worker (supervisor/checker-worker.ts)
// keeps it loaded, with its parsed libraries, between deploys.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { HandlerError } from './bundle.js';
import { PACKAGE_ROOT } from '../../config/files.js';

/** Diagnostics that only say the user's project has no type declarations installed. */
const MISSING_TYPES = new Set([2307, 7016, 2580, 2591, 2688, 2792, 2875]);

/** The compiler options of the check (check-cache.ts keys its results by them too). */
export const CHECK_OPTIONS = {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  // As esbuild bundles it: an ES module wherever it lives (top-level await included), whatever
  // package.json is or is not next to it.
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  allowJs: true,
  checkJs: false,
  esModuleInterop: true,
  allowImportingTsExtensions: true,
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
  // `import type { Context } from 'faasflow'` is this package's types wherever the handler lives
  // (npx runs faasflow without a local install); unresolved, ctx would silently be `any`.
  paths: { faasflow: [path.join(PACKAGE_ROOT, 'dist', 'index.d.ts')] },
};

/** The compiler options for checking `files` (absolute): CHECK_OPTIONS with Node's types. */
export function checkOptionsFor(files: string[]): ts.CompilerOptions {
  // Node's types where they are installed (near a handler, or near faasflow): TypeScript 6 no
  // longer includes @types packages by itself, and without them a handler's `NodeJS.*` types fail.
  const typeRoots = [...new Set([...files.map(path.dirname), PACKAGE_ROOT].flatMap(typesDirsOf))];
  return { ...CHECK_OPTIONS, types: ['node'], typeRoots };
}

/**
 * Type-checks handler sources in one program. Throws a HandlerError listing every problem as
 * file:line:col (relative to `cwd`), or when a module has no default-exported function. Returns
 * every other file the check read (imports, declarations), TypeScript's own libraries aside.
 */
export function checkHandlers(sources: string[], cwd = process.cwd()): string[] {
  const files = sources.map((s) => path.resolve(cwd, s));
  for (const f of files) if (!fs.existsSync(f)) throw new HandlerError(f, `handler file not found: ${f}`);
  return checkProgram(ts.createProgram(files, checkOptionsFor(files)), files, cwd);
}

/** What checkHandlers reports of `program`, built over `files` (absolute) by whoever holds the compiler. */
export function checkProgram(program: ts.Program, files: string[], cwd: string): string[] {
  const checker = program.getTypeChecker();
  const problems: string[] = [];
  const shown = (file: string) => path.relative(cwd, file) || file;
  for (const file of files) {
    const sf = program.getSourceFile(file);
    if (!sf) continue;
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].filter((d) => !MISSING_TYPES.has(d.code));
    for (const d of diags) {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      const loc = where ? `${shown(file)}:${where.line + 1}:${where.character + 1}` : file;
      problems.push(`${loc}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
    const sym = checker.getSymbolAtLocation(sf);
    const def = sym ? checker.getExportsOfModule(sym).find((e) => e.escapedName === 'default') : undefined;
    if (!def) {
      problems.push(`${shown(file)}: no default export: write \`export default async function (input: Uint8Array, ctx) { ... }\``);
    } else {
      const type = checker.getTypeOfSymbolAtLocation(def, sf);
      if (type.getCallSignatures().length === 0 && !(type.flags & ts.TypeFlags.Any)) {
        problems.push(`${shown(file)}: the default export is not a function`);
      }
    }
  }
  if (problems.length) throw new HandlerError(files[0], `${problems.join('\n')}\nFix ${problems.length === 1 ? 'it' : 'them'} in the handler and run the command again.`);
  return program.getSourceFiles().filter((sf) => !program.isSourceFileDefaultLibrary(sf) && !files.includes(path.resolve(sf.fileName))).map((sf) => path.resolve(sf.fileName));
}

/** The node_modules/@types directories of `start` and its ancestors. */
function typesDirsOf(start: string): string[] {
  const out: string[] = [];
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules', '@types'))) out.push(path.join(dir, 'node_modules', '@types'));
    if (path.dirname(dir) === dir) return out;
  }
}
