import { Flags } from '@oclif/core';
import { loadConfig } from '../../config/load.js';
import { parseDuration } from '../../common/units.js';
import { FaasflowError } from '../../common/errors.js';
import { checkInstanceName } from '../../common/paths.js';
import { FaasflowCommand } from '../../control/command.js';
import { parseBackend, renderHaproxy, type Backend } from '../../export/haproxy.js';
import { checkTlsCert } from '../../export/tls.js';

export interface ExportHaproxyResult {
  config: string;
  backends: Backend[];
  warnings: string[];
}

export default class ExportHaproxy extends FaasflowCommand {
  static override summary = 'Print an HAProxy config that spreads requests over several faasflow instances and sees each one drain.';
  static override description =
    'balance leastconn, health checks on GET /healthz (fall/rise; 200 once every function has a ready replica), retries only for requests that never reached an instance. Every instance should run this config with gateway.drainDelay ≥ (fall + 1) × inter, so HAProxy marks a stopping instance down before its listener closes.';
  static override examples = [
    '<%= config.bin %> export haproxy --backend 10.0.0.5:8080 --backend 10.0.0.6:8080 > haproxy.cfg',
    '<%= config.bin %> export haproxy --backend a=127.0.0.1:8081 --backend b=127.0.0.1:8082 --port 8080 --stats-socket /run/haproxy.sock',
    '<%= config.bin %> export haproxy --backend 10.0.0.5:8080 --backend 10.0.0.6:8080 --tls-cert /etc/haproxy/site.pem',
  ];
  static override flags = {
    backend: Flags.string({ description: 'a faasflow instance, HOST:PORT or NAME=HOST:PORT (repeat for each)', multiple: true, required: true }),
    port: Flags.integer({ description: 'port HAProxy listens on (default 80, or 443 with --tls-cert)', min: 1, max: 65535 }),
    bind: Flags.string({ description: 'address HAProxy listens on', default: '0.0.0.0' }),
    inter: Flags.string({ description: 'health check interval', default: '1s' }),
    fall: Flags.integer({ description: 'failed checks that mark an instance down', default: 2, min: 1 }),
    rise: Flags.integer({ description: 'passed checks that mark it up again', default: 2, min: 1 }),
    'stats-socket': Flags.string({ description: 'path of an admin stats socket (show stat, disable server)' }),
    'tls-cert': Flags.string({ description: 'PEM file with the certificate (and chain) and its private key: HAProxy terminates TLS with it' }),
  };

  async run(): Promise<ExportHaproxyResult> {
    const { flags } = await this.parse(ExportHaproxy);
    const interMs = parseDuration(flags.inter);
    if (interMs === undefined || interMs < 100) throw new FaasflowError('USAGE', `--inter ${flags.inter} is not a check interval: write e.g. 1s or 500ms (at least 100ms)`);
    const cfg = await loadConfig({ cwd: process.cwd(), file: flags.config, instance: checkInstanceName(flags.instance) });
    const backends = flags.backend.map((b, i) => parseBackend(b, i));
    const tlsCert = flags['tls-cert'] !== undefined ? checkTlsCert(flags['tls-cert']) : undefined;
    const r = renderHaproxy(cfg, {
      backends,
      bind: flags.bind,
      port: flags.port ?? (tlsCert ? 443 : 80),
      check: { interMs, fall: flags.fall, rise: flags.rise },
      ...(flags['stats-socket'] ? { statsSocket: flags['stats-socket'] } : {}),
      ...(tlsCert ? { tlsCert } : {}),
    });
    for (const w of r.warnings) this.warn(w);
    if (!this.jsonEnabled()) process.stdout.write(r.text);
    return { config: r.text, backends, warnings: r.warnings };
  }
}
