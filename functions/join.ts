// Joins a parallel group's outputs (ctx.inputs, in the flow's order) with newlines, copying each
// once into one output packet.
import type { Context } from '../src/index.js';

export default function join(_input: Uint8Array, ctx: Context) {
  const parts = ctx.inputs;
  const size = parts.reduce((n, p) => n + p.length, 0) + Math.max(0, parts.length - 1);
  const out = ctx.output(size);
  let at = 0;
  parts.forEach((p, i) => {
    if (i > 0) out.bytes[at++] = 10;
    out.bytes.set(p, at);
    at += p.length;
  });
  ctx.header('content-type', 'text/plain; charset=utf-8');
  return out.end(size);
}
