import fs from 'node:fs';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { FaasflowCommand } from '../control/command.js';
import { FaasflowError } from '../common/errors.js';
import { invoke } from '../control/invoke.js';
import { requireRunning } from '../control/status.js';

export interface InvokeResult {
  status: number;
  requestId: string;
  contentType: string;
  /** UTF-8 text of the reply (base64 when it is not valid text). */
  body: string;
  encoding: 'utf8' | 'base64';
  bytes: number;
}

export default class Invoke extends FaasflowCommand {
  static override summary = 'Call a function (or run a flow) through the gateway and print its reply.';
  static override examples = ["<%= config.bin %> invoke 1 --data 'Hello World'", '<%= config.bin %> invoke 5 --file cat.jpg --query w=200 > small.jpg', "<%= config.bin %> invoke 3 -d '{\"a\":1}' -H 'content-type: application/json' -H 'x-trace: 7'", 'echo hi | <%= config.bin %> invoke 1', "<%= config.bin %> invoke --flow shout --data 'Hello World'"];
  static override args = { id: Args.string({ description: 'function id or name (or --flow NAME)', required: false }) };
  static override flags = {
    flow: Flags.string({ description: 'run this flow (POST /flow/NAME) instead of calling one function' }),
    data: Flags.string({ char: 'd', description: 'request body', exclusive: ['file'] }),
    file: Flags.string({ char: 'f', description: 'read the request body from this file (- for standard input; piped input is read when neither --data nor --file is given)', exclusive: ['data'] }),
    'content-type': Flags.string({ description: 'request Content-Type', default: 'application/octet-stream' }),
    query: Flags.string({ char: 'q', description: 'query parameter NAME=VALUE (repeatable; several may also be joined with &: w=200&h=100)', multiple: true }),
    header: Flags.string({ char: 'H', description: "request header 'NAME: VALUE' (repeatable)", multiple: true }),
    timeout: Flags.integer({ description: 'ms to wait for the reply', default: 60_000, min: 1 }),
  };

  async run(): Promise<InvokeResult> {
    const { args, flags } = await this.parse(Invoke);
    if ((args.id === undefined) === (flags.flow === undefined)) throw new FaasflowError('USAGE', args.id === undefined ? 'name a function id (faasflow invoke 1) or a flow (faasflow invoke --flow NAME)' : 'give a function id or --flow NAME, not both');
    const what = flags.flow !== undefined ? `flow ${flags.flow}` : `function ${args.id}`;
    const query = queryString(flags.query ?? []);
    const path = `${flags.flow !== undefined ? `/flow/${encodeURIComponent(flags.flow)}` : `/function/${encodeURIComponent(args.id!)}`}${query}`;
    const headers = parseHeaders(flags.header ?? []);
    const s = requireRunning(await this.locate(flags));
    let body: Buffer = Buffer.from(flags.data ?? '');
    if (flags.file === '-' || (flags.file === undefined && flags.data === undefined && !process.stdin.isTTY)) {
      body = await readStdin();
    } else if (flags.file) {
      try {
        body = fs.readFileSync(flags.file);
      } catch (err) {
        throw new FaasflowError('USAGE', `cannot read --file ${flags.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    const r = await invoke(s.host, s.port, path, body, { 'content-type': flags['content-type'], ...headers }, flags.timeout);
    const text = r.body.toString('utf8');
    const isText = Buffer.from(text, 'utf8').equals(r.body);
    if (r.status < 200 || r.status > 299) {
      let msg = text.slice(0, 500);
      let step: string | undefined;
      try {
        const j = JSON.parse(text) as { error?: string | { message?: string }; message?: string; step?: string };
        msg = (typeof j.error === 'string' ? j.error : j.error?.message) ?? j.message ?? msg;
        step = typeof j.step === 'string' ? j.step : undefined;
      } catch {
        // not JSON: the text itself
      }
      const where = [r.requestId ? `request ${r.requestId}` : '', step ? `step ${step}` : ''].filter(Boolean).join(', ');
      throw new FaasflowError('INVOKE', `${what} answered ${r.status}${where ? ` (${where})` : ''}: ${msg}`);
    }
    if (!this.jsonEnabled()) process.stdout.write(r.body);
    return { status: r.status, requestId: r.requestId, contentType: r.contentType, body: isText ? text : r.body.toString('base64'), encoding: isText ? 'utf8' : 'base64', bytes: r.body.length };
  }
}

/** `--query` values (NAME=VALUE, or several joined with &) as `?…`, each name and value encoded. */
export function queryString(items: string[]): string {
  const q = new URLSearchParams();
  for (const item of items.flatMap((i) => i.split('&')).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new FaasflowError('USAGE', `--query ${JSON.stringify(item)} is not NAME=VALUE (e.g. --query w=200)`);
    q.append(item.slice(0, eq), item.slice(eq + 1));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** `--header 'NAME: VALUE'` values; a name HTTP does not allow is refused here, not by the socket. */
export function parseHeaders(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const colon = item.indexOf(':');
    const name = colon > 0 ? item.slice(0, colon).trim().toLowerCase() : '';
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw new FaasflowError('USAGE', `--header ${JSON.stringify(item)} is not 'NAME: VALUE' (e.g. --header 'x-trace: 7')`);
    if (name === 'content-length' || name === 'transfer-encoding' || name === 'host' || name === 'connection') throw new FaasflowError('USAGE', `--header ${name} is set by faasflow invoke itself`);
    const value = item.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) throw new FaasflowError('USAGE', `--header ${name}: a value may not contain a line break`);
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  }
  return out;
}

/** Standard input to its end (a closed or empty one gives an empty body). */
async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
