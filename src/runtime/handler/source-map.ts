// Stack traces that point into the handler's source, not into its bundle. A bundle carries an
// inline source map (bundle.ts), but Node applies source maps only to modules loaded from files,
// and a sandboxed container imports its handler from source text (a data: URL: it cannot read the
// runtime directory the bundle is in). So the container maps the frames of its handler's module
// itself, with the map the bundle carries: `fn7-d1.mjs:9:11` becomes `/srv/fns/throws2.ts:17:9`.
import { SourceMap } from 'node:module';
import path from 'node:path';

const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

/** The bundle's own source map, or undefined when it has none (or a damaged one). */
function inlineMap(source: string): { map: SourceMap; root: string } | undefined {
  const m = INLINE_MAP.exec(source);
  if (!m) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(m[1], 'base64').toString('utf8')) as { sourceRoot?: string };
    return { map: new SourceMap(payload as ConstructorParameters<typeof SourceMap>[0]), root: payload.sourceRoot ?? '' };
  } catch {
    return undefined;
  }
}

/** What V8 prints for an error's first line; an error whose own toString throws gets a plain one. */
function headline(err: unknown): string {
  try {
    return Error.prototype.toString.call(err);
  } catch {
    return 'Error';
  }
}

/**
 * From now on, stack traces in this process show the original file, line and column for frames
 * in `moduleName` (the name the module was imported under: its sourceURL). Other frames, and the
 * format, stay as V8 writes them.
 */
export function mapStackTraces(moduleName: string, source: string): void {
  const found = inlineMap(source);
  if (!found) return;
  const { map, root } = found;
  Error.prepareStackTrace = (err, frames) => {
    const lines = frames.map((f) => {
      const text = String(f);
      const line = f.getLineNumber();
      const column = f.getColumnNumber();
      if (f.getScriptNameOrSourceURL() !== moduleName || line === null || column === null) return `    at ${text}`;
      const e = map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
      if (e.originalSource === undefined || e.originalLine === undefined || e.originalColumn === undefined) return `    at ${text}`;
      const where = `${path.resolve(root, e.originalSource)}:${e.originalLine + 1}:${e.originalColumn + 1}`;
      return `    at ${text.replace(`${moduleName}:${line}:${column}`, where)}`;
    });
    return [headline(err), ...lines].join('\n');
  };
}
