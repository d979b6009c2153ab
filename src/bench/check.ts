// Before a setup is measured it must answer every body size correctly: the reply is the body's
// length, so a truncated or refused body shows up here instead of as a fast wrong number.
import http from 'node:http';

export function post(url: string, body: Buffer, timeoutMs = 30_000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function checkSetup(name: string, url: string, sizes: number[]): Promise<void> {
  for (const size of sizes) {
    const { status, text } = await post(url, Buffer.alloc(size, 'x'));
    if (status !== 200 || text.trim() !== String(size)) {
      throw new Error(`${name} answered a ${size}-byte POST to ${url} with ${status} "${text.slice(0, 200)}" instead of 200 "${size}"`);
    }
  }
}
