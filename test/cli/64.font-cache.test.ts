// The watermark example draws text with sharp, whose fontconfig writes a cache: under the sandbox
// its container may write only its domain's temporary directory, so that is where the cache goes
// (XDG_CACHE_HOME), and the function's log stays free of "No writable cache directories".
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { ROOT, configText, project } from './helpers.js';

t.test('a sandboxed function using fontconfig logs no cache error and answers', async (t) => {
  const p = await project(t, 'font');
  const handler = JSON.stringify(path.join(ROOT, 'functions', 'watermark.ts'));
  p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, name: 'watermark', handler: ${handler} }]`));
  t.equal((await p.cli(['up'])).code, 0);
  const png = await sharp({ create: { width: 240, height: 160, channels: 3, background: '#336699' } }).png().toBuffer();
  const res = await fetch(`http://127.0.0.1:${p.port}/function/watermark?text=hello`, { method: 'POST', body: png });
  t.equal(res.status, 200);
  const out = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  t.same([out.format, out.width, out.height], ['png', 240, 160], 'a watermarked PNG of the same size');
  const logs = (await p.cli(['logs', '--id', '1', '-n', '200'])).stdout;
  t.notMatch(logs, /Fontconfig error/, `no fontconfig error in the function's log:\n${logs}`);
  t.equal((await p.cli(['down'])).code, 0);
});
