import t from 'tap';
import sharp from 'sharp';
import { startRuntime, until } from '../helpers/runtime.js';
import { json, post } from '../helpers/http.js';

t.test('resize: JPEG and PNG in, same format out at the asked size; bad input is a 4xx', async (t) => {
  const rt = await startRuntime(t, [{ id: 2, handler: 'functions/resize.ts', timeoutMs: 20000 }]);
  const make = (format: 'jpeg' | 'png') =>
    sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 80, b: 20 } } }).toFormat(format).toBuffer();
  for (const format of ['jpeg', 'png'] as const) {
    const r = await post(rt.port, '/function/2?w=160&h=100', await make(format), { 'content-type': `image/${format}` });
    t.equal(r.status, 200, `${format}: 200`);
    t.equal(r.headers['content-type'], `image/${format}`);
    const meta = await sharp(r.body).metadata();
    t.same([meta.format, meta.width, meta.height], [format, 160, 100]);
  }
  const keepRatio = await post(rt.port, '/function/2?w=320', await make('png'));
  const m = await sharp(keepRatio.body).metadata();
  t.same([m.width, m.height], [320, 240], 'only a width keeps the aspect ratio');
  const noSize = await post(rt.port, '/function/2', await make('png'));
  t.equal(noSize.status, 400);
  t.match(json(noSize).error, /give a target size/);
  const notImage = await post(rt.port, '/function/2?w=10', 'definitely not an image');
  t.equal(notImage.status, 415);
  const badW = await post(rt.port, '/function/2?w=-3', await make('png'));
  t.equal(badW.status, 400);
  await until(() => rt.inUse() === 0, 10_000, 'pool empty');
});
