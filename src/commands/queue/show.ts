import * as Args from '@oclif/core/args';
import { FaasflowCommand } from '../../control/command.js';
import { FaasflowError } from '../../common/errors.js';
import { openQueue } from '../../control/queue.js';

/** Bytes of a body shown as text. */
const PREVIEW = 1024;

export default class QueueShow extends FaasflowCommand {
  static override summary = 'One async request: its target, headers, body size, attempts, last error, result and callback.';
  static override examples = ['<%= config.bin %> queue show 6f1c…', '<%= config.bin %> queue show 6f1c… --json'];
  static override args = { id: Args.string({ description: 'the request id (X-Request-Id of its 202)', required: true }) };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(QueueShow);
    const q = await openQueue(flags.instance);
    try {
      const r = q.get(args.id);
      if (!r) throw new FaasflowError('USAGE', `no async request ${args.id} (instance ${flags.instance}): \`faasflow queue ls\` lists them; finished results expire after async.keepResults`);
      const out = {
        id: r.id, target: { kind: r.kind, name: r.name, target: r.target }, caller: r.caller, state: r.state, attempts: r.attempts,
        createdAt: new Date(r.created_at).toISOString(), nextAttemptAt: r.state === 'pending' ? new Date(r.next_at).toISOString() : null,
        finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null, lastError: r.error,
        request: { query: r.query, headers: JSON.parse(r.headers) as unknown, bodyBytes: r.body.length },
        result: r.status === null ? null : { status: r.status, headers: JSON.parse(r.result_headers ?? '{}') as unknown, bodyBytes: r.result_body?.length ?? 0, bodyPreview: (r.result_body ?? Buffer.alloc(0)).subarray(0, PREVIEW).toString('utf8') },
        callback: r.callback ? { url: r.callback, state: r.cb_state, attempts: r.cb_attempts } : null,
      };
      this.log(JSON.stringify(out, null, 2));
      return out;
    } finally {
      await q.close();
    }
  }
}
