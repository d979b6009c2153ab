// Stamps a caption in the bottom-right corner of a JPEG or PNG (?text=, default "faasflow"): the
// middle step of the thumbnail flow. sharp reads the image straight from the packet view.
import sharp, { type Metadata } from 'sharp';
import type { Context } from '../src/index.js';

const escape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export default async function watermark(input: Uint8Array, ctx: Context) {
  const image = sharp(input, { failOn: 'error' });
  let meta: Metadata;
  try {
    meta = await image.metadata();
  } catch {
    ctx.status(415);
    return { error: 'the body is not a JPEG or PNG image' };
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const text = escape((ctx.query.get('text') ?? 'faasflow').slice(0, 64));
  const size = Math.max(10, Math.round(Math.min(width, height) / 12));
  const svg = `<svg width="${width}" height="${height}"><text x="${width - size / 2}" y="${height - size / 2}" font-size="${size}" font-family="sans-serif" text-anchor="end" fill="white" fill-opacity="0.7" stroke="black" stroke-opacity="0.4">${text}</text></svg>`;
  const out = await image.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).toFormat(meta.format === 'png' ? 'png' : 'jpeg').toBuffer();
  ctx.header('content-type', `image/${meta.format === 'png' ? 'png' : 'jpeg'}`);
  return out;
}
