// Returns its input unchanged. Returning the input view lets the container reply from the request
// packet itself: zero copies end to end.
import type { Context } from '../src/index.js';

export default function echo(input: Uint8Array, ctx: Context): Uint8Array {
  if (ctx.contentType) ctx.header('content-type', ctx.contentType);
  return input;
}
