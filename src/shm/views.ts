// Loads the per-packet view addon (native/view.cc): a handler's `input` and `ctx.output(n)` are
// ArrayBuffers of exactly their packet's bytes, detached before the packet is handed on.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

interface NativeViews {
  /** An ArrayBuffer of exactly `length` bytes at `offset` of `mappingView`. */
  view(mappingView: ArrayBuffer, offset: number, length: number): ArrayBuffer;
  /** Empties every typed array over `buffer`; a second detach does nothing. */
  detach(buffer: ArrayBuffer): void;
}

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'Release', 'faasflow_view.node');

function load(): NativeViews {
  try {
    return createRequire(import.meta.url)(file) as NativeViews;
  } catch (err) {
    throw new Error(`faasflow native module not built (${file}): ${err instanceof Error ? err.message : String(err)}. Run \`npm rebuild faasflow\` or \`npx node-gyp rebuild\`.`, { cause: err });
  }
}

export const views: NativeViews = load();
