// A handler's stack trace in `faasflow logs` points into its TypeScript source, not into the bundle
// the container runs: sandboxed (the container imports the bundle from its source text, and maps the
// frames itself) and unsandboxed (it imports the bundle file, with Node's source maps).
import t from 'tap';
import { configText, project } from './helpers.js';

// The throw is on line 6, column 9 of this file as written.
const THROWS = `interface Order {
  id: number;
}

export default async function (input: Uint8Array): Promise<string> {
  throw new Error(\`no order \${(JSON.parse(new TextDecoder().decode(input)) as Order).id}\`);
}
`;

for (const sandbox of [true, false]) {
  t.test(`sandbox ${sandbox ? 'on' : 'off'}: the logged stack names throws.ts:6:9`, async (t) => {
    const p = await project(t, sandbox ? 'stack' : 'stackns');
    p.write('throws.ts', THROWS);
    p.write('faasflow.config.ts', configText(p.port, "[{ id: 1, handler: './throws.ts' }]", `  security: { sandbox: ${sandbox} },\n`));
    t.equal((await p.cli(['up'])).code, 0);
    const r = await p.cli(['invoke', '1', '--data', '{"id":7}']);
    t.match(r.stderr, /handler failed: no order 7/);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('no order 7'); i++) {
      logs = (await p.cli(['logs', '--id', '1', '-n', '50'])).stdout;
      if (!logs.includes('no order 7')) await new Promise((r) => setTimeout(r, 100));
    }
    t.match(logs, new RegExp(`${p.dir}/throws\\.ts:6:9`), `the stack names the source line:\n${logs}`);
    t.notMatch(logs, /\.mjs:\d+:\d+/, 'and no frame of the bundle');
    t.equal((await p.cli(['down'])).code, 0);
  });
}
