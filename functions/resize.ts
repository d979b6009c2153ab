// Resizes a JPEG or PNG image: POST the image, ?w=<px>&h=<px> (either or both), same format out.
// sharp (libvips) reads the image straight from the packet view.
import sharp from 'sharp';
import type { Context } from '../src/index.js';

const MAX_SIDE = 8192;

function dimension(ctx: Context, name: string): number | undefined {
  const raw = ctx.query.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SIDE) throw new RangeError(`?${name}= must be a whole number of pixels from 1 to ${MAX_SIDE}`);
  return n;
}

export default async function resize(input: Uint8Array, ctx: Context) {
  let width: number | undefined;
  let height: number | undefined;
  try {
    width = dimension(ctx, 'w');
    height = dimension(ctx, 'h');
  } catch (err) {
    ctx.status(400);
    return { error: (err as Error).message };
  }
  if (width === undefined && height === undefined) {
    ctx.status(400);
    return { error: 'give a target size: ?w=<px>, ?h=<px> or both' };
  }
  const image = sharp(input, { failOn: 'error' });
  let format: string | undefined;
  try {
    format = (await image.metadata()).format;
  } catch {
    ctx.status(415);
    return { error: 'the body is not a JPEG or PNG image' };
  }
  if (format !== 'jpeg' && format !== 'png') {
    ctx.status(415);
    return { error: `unsupported image format ${format ?? 'unknown'}: send JPEG or PNG` };
  }
  const out = await image.resize({ width, height, fit: width && height ? 'fill' : 'inside' }).toFormat(format).toBuffer();
  ctx.header('content-type', `image/${format}`);
  return out;
}
