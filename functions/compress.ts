// Re-encodes an image as WebP (?q=1..100, default 75): the last step of the thumbnail flow.
import sharp from 'sharp';
import type { Context } from '../src/index.js';

export default async function compress(input: Uint8Array, ctx: Context) {
  const q = Number(ctx.query.get('q') ?? 75);
  if (!Number.isInteger(q) || q < 1 || q > 100) {
    ctx.status(400);
    return { error: '?q= must be a whole number from 1 to 100' };
  }
  let out: Buffer;
  try {
    out = await sharp(input, { failOn: 'error' }).webp({ quality: q }).toBuffer();
  } catch {
    ctx.status(415);
    return { error: 'the body is not an image sharp can read' };
  }
  ctx.header('content-type', 'image/webp');
  return out;
}
