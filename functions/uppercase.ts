// Upper-cases ASCII letters, writing straight into an output packet (no intermediate string).
import type { Context } from '../src/index.js';

export default function uppercase(input: Uint8Array, ctx: Context) {
  const out = ctx.output(input.length);
  const b = out.bytes;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    b[i] = c >= 97 && c <= 122 ? c - 32 : c;
  }
  ctx.header('content-type', 'text/plain; charset=utf-8');
  return out.end(input.length);
}
