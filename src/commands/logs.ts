import * as Flags from '@oclif/core/flags';
import { FaasflowCommand } from '../control/command.js';
import { FaasflowError } from '../common/errors.js';
import { LogTail, followLines, logFiles, tailLines } from '../observe/logs.js';
import { ACCESS_TIME_AT, accessLogFiles } from '../observe/access.js';

export interface LogsResult {
  files: string[];
  lines: string[];
}

export default class Logs extends FaasflowCommand {
  static override summary = "Show an instance's logs (supervisor, gateway, every function), merged by time.";
  static override examples = ['<%= config.bin %> logs', '<%= config.bin %> logs --id 2 --follow', '<%= config.bin %> logs -n 500 --json', '<%= config.bin %> logs --access --follow'];
  static override flags = {
    id: Flags.integer({ description: 'only function N (its containers, restarts and give-ups)', min: 1 }),
    follow: Flags.boolean({ char: 'f', description: 'keep printing new lines until Ctrl-C' }),
    access: Flags.boolean({ description: "the gateways' access logs instead: one JSON line per request (time, requestId, function or flow, status, bytesIn, bytesOut, durationUs, caller)", exclusive: ['id'] }),
    lines: Flags.integer({ char: 'n', description: 'how many recent lines to show', default: 100, min: 0 }),
  };

  async run(): Promise<LogsResult> {
    const { flags } = await this.parse(Logs);
    const p = await this.locate(flags);
    const list = () => (flags.access ? accessLogFiles(p.logs) : logFiles(p.logs, flags.id));
    const files = list();
    if (!files.some((f) => tailLines([f], 1).length)) {
      if (flags.access && !flags.follow) throw new FaasflowError('NOT_RUNNING', `no access log in ${p.logs}: no request was served yet, or gateway.accessLog is false in the instance's config`);
      if (!flags.access) throw new FaasflowError('NOT_RUNNING', `no logs${flags.id ? ` for function ${flags.id}` : ''} in ${p.logs}: the instance "${p.instance}" never ran here${flags.id ? ', or has no such function' : ''}`);
    }
    // Where following starts is taken before the recent lines are read, so none falls between.
    const tail = new LogTail(list, { keep: 0 });
    if (flags.follow) tail.poll();
    const lines = tailLines(files, flags.lines, flags.access ? ACCESS_TIME_AT : 0);
    if (this.jsonEnabled()) return { files, lines };
    for (const l of lines) this.log(l);
    if (flags.follow) {
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      await followLines(tail, (l) => this.log(l.raw), stop.signal);
    }
    return { files, lines };
  }
}
