// Text for whatever a handler throws, rejects with or returns, and type checks on it, all total.
// Such a value is the handler's own object: making text of it runs the handler's code (a toString,
// a `message` getter, an `instanceof` that asks a Proxy's getPrototypeOf trap), which may throw
// in turn, and a throw out of the code that answers a request would take the whole replica down
// (502 for every request in it) instead of answering this one 500. A Proxy is not asked anything.
import { types } from 'node:util';

/** What a description says when making one threw. */
const INDESCRIBABLE = 'a thrown value that cannot be described (its toString or message threw)';

/** The message of an Error, else the value as text; never throws. */
export function describeThrown(v: unknown): string {
  try {
    if (typeof v === 'string') return v;
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return String(v);
    if (types.isProxy(v)) return 'a Proxy';
    if (isInstance(v, Error)) {
      const m: unknown = v.message;
      if (typeof m === 'string') return m;
    }
    const s: unknown = String(v);
    return typeof s === 'string' ? s : INDESCRIBABLE;
  } catch {
    return INDESCRIBABLE;
  }
}

/** An Error's stack (for the log), else its description; never throws. */
export function stackOf(v: unknown): string {
  try {
    if (typeof v === 'object' && v !== null && !types.isProxy(v) && isInstance(v, Error)) {
      const stack: unknown = v.stack;
      if (typeof stack === 'string') return stack;
    }
  } catch {
    // its stack getter threw
  }
  return describeThrown(v);
}

/** `v instanceof c`, false where asking threw (a Proxy's trap, or one in its prototype chain). */
export function isInstance<T>(v: unknown, c: abstract new (...args: never[]) => T): v is T {
  try {
    return !types.isProxy(v) && v instanceof c;
  } catch {
    return false;
  }
}

/** `JSON.stringify(v)`, or why it could not be made (the handler's toJSON or a Proxy's trap threw, a cycle, a BigInt). */
export function toJson(v: unknown): { json: string } | { error: string } {
  try {
    const json: unknown = JSON.stringify(v);
    if (typeof json === 'string') return { json };
    return { error: 'JSON.stringify made nothing of it (a toJSON that returns undefined?)' };
  } catch (err) {
    return { error: describeThrown(err) };
  }
}
