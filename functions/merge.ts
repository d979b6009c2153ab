// The step after a parallel group: gets every branch's output as ctx.inputs (in the order the
// flow lists the branches) and answers them as one JSON document, each parsed as JSON when it is.
import type { Context } from '../src/index.js';

const decoder = new TextDecoder();

function parse(bytes: Uint8Array): unknown {
  const text = decoder.decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export default function merge(_input: Uint8Array, ctx: Context) {
  return { flow: ctx.flow?.name ?? null, results: ctx.inputs.map(parse) };
}
