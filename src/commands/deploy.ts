import fs from 'node:fs';
import path from 'node:path';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { controlRequest } from '../control/client.js';
import { FaasflowCommand } from '../control/command.js';
import { FaasflowError } from '../common/errors.js';
import { deployBundleDir } from '../common/paths.js';
import type { CheckAnswer, DeployResult } from '../common/protocol.js';
import { requireRunning } from '../control/status.js';
import { isFaasflowError } from '../common/errors.js';
import type { InstancePaths } from '../common/paths.js';
import type { HandlerCheck } from '../runtime/handler/check-cache.js';

export default class Deploy extends FaasflowCommand {
  static override summary = 'Hot-deploy a TypeScript handler as function N: check, build, start new replicas, switch routing, drain the old ones.';
  static override description = 'Syntax and type errors are reported (file:line) before anything changes. Requests in flight during the switch complete on the old replicas; none fails. The deployment survives a restart of the instance.';
  static override examples = ['<%= config.bin %> deploy ./functions/resize.ts --id 2', '<%= config.bin %> deploy ./handler.ts --id 7 --replicas 2 --name thumbnails'];
  static override args = { file: Args.string({ description: 'handler source (.ts or .js) with a default-exported function', required: true }) };
  static override flags = {
    id: Flags.integer({ description: 'function id (the N in POST /function/N)', required: true, min: 1 }),
    replicas: Flags.integer({ char: 'r', description: 'replicas to run (default: as before, or 1)', min: 1, max: 64 }),
    name: Flags.string({ char: 'n', description: 'function name (default: the file name; a new version of the same file keeps the current name)' }),
  };

  async run(): Promise<DeployResult> {
    const { args, flags } = await this.parse(Deploy);
    const p = await this.locate(flags);
    requireRunning(p);
    const source = path.resolve(args.file);
    if (!fs.existsSync(source)) throw new FaasflowError('HANDLER', `handler file ${source} does not exist`);
    const say = (m: string) => !this.jsonEnabled() && this.log(m);
    say(`checking ${args.file}`);
    // Loaded here, not at the top: oclif imports every command module to list them. The check is
    // the instance's (its warm checker answers in a fraction of the seconds the CLI takes to load
    // the TypeScript compiler); the bundle is built meanwhile, and kept only if the check passes.
    const [{ bundleHandler }, { checkHandlersCached }] = await Promise.all([import('../runtime/handler/bundle.js'), import('../runtime/handler/check-cache.js')]);
    const outDir = deployBundleDir(p, flags.id);
    try {
      const [checked, bundled] = await Promise.allSettled([checkHandlersCached([source], undefined, instanceCheck(p, say)), bundleHandler(source, outDir)]);
      if (checked.status === 'rejected') throw checked.reason;
      if (bundled.status === 'rejected') throw bundled.reason;
      const { file } = bundled.value;
      const r = await controlRequest<DeployResult>(p, { cmd: 'deploy', fn: { id: flags.id, name: flags.name, replicas: flags.replicas, source, bundle: file } }, { onEvent: (e) => e.kind === 'info' && say(`  ${e.message}`) });
      say(`function ${r.id} (${r.name}) is deployment ${r.deployment}${r.previous ? ` (was ${r.previous}; ${r.stopped.length} old replica(s) drained)` : ''}, ${r.replicas} replica(s)`);
      // Replacing another function under its id is allowed (that is how an id is reused), but
      // flows name their steps by function and now call this one: say so, it is rarely meant.
      if (r.replaced) this.warn(`function ${r.id} was ${r.replaced.name} (${r.replaced.source}); it is replaced${r.flows.length ? `, and flow(s) ${r.flows.join(', ')} now call ${r.name} in its place: deploy ${r.replaced.name} back with \`faasflow deploy ${r.replaced.source} --id ${r.id}\`, or use a free id` : ''}`);
      else if (r.flows.length) say(`flow(s) ${r.flows.join(', ')} call function ${r.id}: they use deployment ${r.deployment} from now on`);
      return r;
    } catch (err) {
      fs.rmSync(outDir, { recursive: true, force: true });
      throw err;
    }
  }
}

/**
 * The instance's warm type checker (control request "check", supervisor/checker.ts); the CLI's own
 * check when the instance cannot answer (its checker restarting or overrun, an older faasflow).
 */
function instanceCheck(p: InstancePaths, say: (m: string) => void): HandlerCheck {
  return async (files) => {
    let reason: string;
    try {
      const r = await controlRequest<CheckAnswer>(p, { cmd: 'check', sources: files, cwd: process.cwd() }, { timeoutMs: 60_000 });
      if (r.checked) return r.deps;
      reason = r.reason;
    } catch (err) {
      if (isFaasflowError(err, 'HANDLER')) throw err;
      reason = (err as Error).message;
    }
    say(`  the instance did not check it (${reason}): checking here`);
    const { checkHere } = await import('../runtime/handler/check-cache.js');
    return checkHere(files);
  };
}
