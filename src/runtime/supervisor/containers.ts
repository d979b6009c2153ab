// The container processes: one per replica of each function version (a deploy runs two versions
// side by side), each with a stats record in its domain's segment; a sandboxed one is handed its
// handler's source once it listens.
import fs from 'node:fs';
import type { ChildState } from '../../common/protocol.js';
import { Child } from './child.js';
import type { FnEntry } from './deployments.js';
import type { Domains } from './domains.js';
import { handlerModuleName, logFileFor } from '../../common/paths.js';
import type { LogFiles } from './logs.js';
import type { childSpecs } from './specs.js';
import type { SandboxPolicy } from '../../sys/sandbox.js';

export class Containers {
  private list: Child[] = [];
  /** The function entry (version) each container was started for. */
  private readonly fnOf = new Map<Child, FnEntry>();

  constructor(
    private readonly specs: ReturnType<typeof childSpecs>,
    private readonly domains: Domains,
    private readonly logs: LogFiles,
    private readonly adopt: (c: Child) => Child,
  ) {}

  all(): Child[] {
    return [...this.list];
  }

  /** Each container with the name of its domain (for linking it to a gateway). */
  withDomains(): { c: Child; domain: string }[] {
    return this.list.flatMap((c) => {
      const f = this.fnOf.get(c);
      return f ? [{ c, domain: f.domain }] : [];
    });
  }

  functionOf(c: Child): FnEntry | undefined {
    return this.fnOf.get(c);
  }

  /** The replicas of one version of a function. */
  of(functionId: number, deployment?: number): Child[] {
    return this.list.filter((c) => c.spec.functionId === functionId && (deployment === undefined || c.spec.deployment === deployment));
  }

  inDomain(name: string): Child[] {
    return this.list.filter((c) => this.fnOf.get(c)?.domain === name);
  }

  runningPid(pid: number): Child | undefined {
    return this.list.find((c) => c.pid === pid && c.running);
  }

  start(f: FnEntry, replica: number, restarts = 0): Child {
    const { spec, statsSlot } = this.prepare(f, replica);
    const c = this.adopt(new Child(spec));
    c.statsSlot = statsSlot;
    c.restarts = restarts;
    this.keepCgroups(c, f);
    this.fnOf.set(c, f);
    this.list.push(c);
    c.start();
    return c;
  }

  /**
   * Before each start of replica c, restarts included: its domain's cgroups, made again if they
   * were removed while it had no process in them. Without them every start fails in the launcher,
   * and the restart policy would give up on a replica whose handler never ran.
   */
  private keepCgroups(c: Child, f: FnEntry): void {
    c.beforeSpawn = () => {
      const d = this.domains.byName(f.domain);
      const restored = d && this.domains.restoreCgroups(d);
      if (restored) this.logs.write(logFileFor('container', f.id), c.spec.id, restored);
    };
  }

  /** `policy`: f's sandbox in its domain as the caller already has it (policyFor walks directories). */
  private prepare(f: FnEntry, replica: number, policy?: SandboxPolicy) {
    const d = this.domains.ensure([f]).at(0) ?? this.domains.byName(f.domain)!;
    const statsSlot = this.domains.takeStatsSlot(d);
    // A secret removed since `up` or `deploy` checked is not there: ctx.secret says so to the handler.
    this.domains.giveSecrets(d, f);
    return { statsSlot, spec: this.specs.container(f, replica, { segment: d.segment.name, segmentFd: d.segment.fd, statsSlot, tmpDir: d.tmpDir, secretsDir: d.secretsDir, policy: policy ?? this.domains.policyFor(d, f) }) };
  }

  /**
   * A warm spare of f's domain (spares.ts, which checked it is of that domain and started as f's
   * replicas are) becomes replica `replica`. What its cold start waits for comes first: it is
   * told what it serves and given its handler, and `link` links it to the gateways; then it is
   * wired and registered as a replica just spawned.
   */
  enlist(spare: Child, f: FnEntry, replica: number, policy: SandboxPolicy | undefined, link: (c: Child) => void): Child {
    const { spec, statsSlot } = this.prepare(f, replica, policy);
    spare.handOver(spec);
    spare.send({ type: 'adopt', functionId: f.id, deployment: f.deployment, replica, statsSlot, concurrency: f.concurrency, timeoutMs: f.timeoutMs, handler: f.bundle });
    this.sendHandler(spare, f);
    link(spare);
    const c = this.adopt(spare);
    c.statsSlot = statsSlot;
    c.restarts = 0;
    this.keepCgroups(c, f);
    this.fnOf.set(c, f);
    this.list.push(c);
    // What the wiring does at a spawn (the process table entry, now a replica's; the log line).
    c.emit('spawn', c.pid);
    return c;
  }

  /** Forgets containers that are gone for good, giving their stats records back to their domains. */
  drop(gone: Child[]): void {
    for (const c of gone) {
      const d = this.domains.byName(this.fnOf.get(c)?.domain ?? '');
      if (d) this.domains.returnStatsSlot(d, c.statsSlot);
      this.fnOf.delete(c);
    }
    this.list = this.list.filter((c) => !gone.includes(c));
  }

  /** A sandboxed container cannot read the runtime directory: it gets its handler's source over IPC. */
  sendHandler(c: Child, f = this.fnOf.get(c)): void {
    if (!f || !c.spec.start.wrapper) return;
    try {
      c.send({ type: 'handler', name: handlerModuleName(f.id, f.deployment), source: fs.readFileSync(f.bundle, 'utf8') });
    } catch (err) {
      this.logs.write(logFileFor('container', f.id), `${c.spec.id}[${c.pid}]`, `cannot send the handler: ${(err as Error).message}`);
    }
  }

  /** What the Containers step of `up` reports: which failed, which are still not ready. */
  startupProblems(): string[] {
    const all = this.list;
    const failed = all.filter((c) => c.state === 'failed');
    const late = all.filter((c) => c.state !== 'ready' && c.state !== 'failed');
    return [
      failed.length ? `${failed.length} of ${all.length} failed: ${failed.map((c) => `${c.spec.id} (${c.lastExit}${c.lastError ? `; last error: ${c.lastError}` : ''})`).join('; ')}` : '',
      late.length ? `${late.length} of ${all.length} not ready yet, still being restarted: ${late.map((c) => `${c.spec.id} (${c.lastExit}; see \`faasflow logs --id ${c.spec.functionId}\`)`).join('; ')}` : '',
    ].filter(Boolean);
  }
}

/**
 * Waits until a child is ready or given up on (restarts in between are the policy's business),
 * or until it was killed for not becoming ready in time: its next attempt would likely hang too.
 */
export function settled(c: Child): Promise<void> {
  const done = (s: ChildState) => s === 'ready' || s === 'failed' || s === 'stopped' || (s === 'crashed' && c.timedOut);
  if (done(c.state)) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (s: ChildState) => {
      if (done(s)) {
        c.off('state', on);
        resolve();
      }
    };
    c.on('state', on);
  });
}
