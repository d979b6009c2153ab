// Warm spares (functions[].scale.spares): per security domain, container processes started and
// sandboxed exactly as that domain's replicas are (the same launcher arguments: its user, Landlock
// ruleset, cgroups or rlimits; the same environment; its segment inherited), with no function
// loaded. A replica the scaler needs is taken from here when one fits: the spare is told its
// function (`adopt`, containers.ts enlist), imports the bundle, takes its links and reports ready
// like any replica, in a fraction of a fresh start; the pool is refilled once it is ready.
//
// A spare is made from one function of its domain (the one asking for the most spares, the lowest
// id on a tie): its environment and sandbox are that function's. It is handed only to a function
// of the same domain whose replicas would start with the same ones (its profile), never across
// domains; others start fresh. Until adopted a spare runs only faasflow's code, yet what it sends
// is checked as any container's (container-channel.ts): a spare that sends anything but
// `listening`, or dies, is replaced, with a backoff while they keep dying.
import type { FnEntry } from './deployments.js';
import type { Domain } from './domains.js';
import type { Segment } from '../../shm/index.js';
import { ENV } from '../../common/env.js';
import { logFileFor } from '../../common/paths.js';
import { Child } from './child.js';
import { describeExit, type ChildExit } from './policy.js';
import type { childSpecs } from './specs.js';
import type { ChildSpec } from './spec.js';
import type { SandboxPolicy } from '../../sys/sandbox.js';
import type { SpareSummary, WarmSpares } from './parts.js';
import type { WiringTarget } from './wiring.js';

/** What a replica's environment says of it alone: a spare has none of it (the adoption tells it). */
const PER_REPLICA = [ENV.functionId, ENV.deployment, ENV.replica, ENV.handler, ENV.concurrency, ENV.timeoutMs, ENV.statsSlot];
/** A spare has nothing to drain: it exits at SIGTERM; this is its KILL deadline. */
const SPARE_STOP_MS = 2000;
/** The first wait before replacing a spare that died unadopted; it doubles with each such death in a row. */
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 30_000;
/** A spare that lived this long before dying resets the backoff: it was no crash loop. */
const HEALTHY_MS = 10_000;

interface Profile {
  segment: Segment;
  profile: string;
  /** Its replicas' spec less what is one replica's own, and their sandbox. */
  spec: ChildSpec;
  policy: SandboxPolicy | undefined;
}

interface Spare {
  c: Child;
  domain: string;
  /** The segment it inherited: a rebuilt domain (domain-repair.ts) makes it stale. */
  segment: Segment;
  profile: string;
}

export class Spares implements WarmSpares {
  private readonly list: Spare[] = [];
  private seq = 0;
  /** Per domain: unadopted deaths in a row, and when the next spare may start. */
  private readonly backoff = new Map<string, { deaths: number; notBefore: number }>();
  /** Domains whose refill waits for a just-adopted spare's start (a new spare would compete with it for the CPU). */
  private readonly paused = new Set<string>();
  /** Each function entry's profile in its domain's segment of the time (an entry is replaced on deploy). */
  private readonly profiles = new WeakMap<FnEntry, Profile>();

  constructor(
    private readonly s: WiringTarget,
    private readonly specs: ReturnType<typeof childSpecs>,
  ) {}

  all(): { c: Child; domain: string }[] {
    return this.list.map(({ c, domain }) => ({ c, domain }));
  }

  /** The spares a domain keeps: the most any of its functions asks for. */
  wanted(domain: string): number {
    return Math.max(0, ...[...this.s.functions.values()].filter((f) => f.domain === domain).map((f) => f.scale?.spares ?? 0));
  }

  summary(): SpareSummary[] {
    return this.s.domains.all().filter((d) => this.wanted(d.name) > 0 || this.list.some((sp) => sp.domain === d.name)).map((d) => {
      const mine = this.list.filter((sp) => sp.domain === d.name);
      return { domain: d.name, wanted: this.wanted(d.name), warm: mine.filter((sp) => warm(sp.c)).length, starting: mine.filter((sp) => !warm(sp.c)).length };
    });
  }

  /** The function a domain's spares are made from. */
  private template(domain: string): FnEntry | undefined {
    const fns = [...this.s.functions.values()].filter((f) => f.domain === domain && (f.scale?.spares ?? 0) > 0);
    return fns.sort((a, b) => (b.scale?.spares ?? 0) - (a.scale?.spares ?? 0) || a.id - b.id)[0];
  }

  /**
   * How `f`'s replicas start in `d`, less what is one replica's own: two functions with the same
   * profile get the same process, sandbox and environment. The nproc rlimit of a domain without a
   * user of its own counts the supervisor user's tasks at the time: left out.
   */
  private profileOf(f: FnEntry, d: Domain): Profile {
    const known = this.profiles.get(f);
    if (known && known.segment === d.segment) return known;
    const policy = this.s.domains.policyFor(d, f);
    const spec = this.specs.container(f, 0, { segment: d.segment.name, segmentFd: d.segment.fd, statsSlot: -1, tmpDir: d.tmpDir, secretsDir: d.secretsDir, policy });
    const env = Object.fromEntries(Object.entries(spec.start.env).filter(([k]) => !(PER_REPLICA as string[]).includes(k)).sort(([a], [b]) => a.localeCompare(b)));
    const profile = JSON.stringify([spec.start.module, env, spec.start.nodeOptions ?? [], policy ? { ...policy, nproc: undefined } : null]);
    const entry = { segment: d.segment, profile, spec: { ...spec, start: { ...spec.start, env } }, policy };
    this.profiles.set(f, entry);
    return entry;
  }

  /**
   * A warm spare made replica `replica` of `f`, or undefined when its domain has none that fits
   * (none warm, or made for another profile). The caller counts it as a started replica.
   */
  take(f: FnEntry, replica: number): Child | undefined {
    const d = this.s.domains.byName(f.domain);
    if (!d || this.s.stopping) return undefined;
    const { profile, policy } = this.profileOf(f, d);
    const i = this.list.findIndex((sp) => sp.domain === f.domain && sp.segment === d.segment && sp.profile === profile && warm(sp.c));
    if (i < 0) return undefined;
    const [sp] = this.list.splice(i, 1);
    // Its spare's wiring goes; the replica's (wiring.ts) comes with enlist.
    sp.c.removeAllListeners();
    const age = Date.now() - sp.c.startedAt;
    const c = this.s.containers.enlist(sp.c, f, replica, policy, (x) => this.s.gateways.linkAll(x, f.domain));
    this.s.logs.write(logFileFor('container', f.id), `${c.spec.id}[${c.pid}]`, `a warm spare of domain ${f.domain} (started ${(age / 1000).toFixed(1)} s ago) takes replica ${replica}`);
    this.paused.add(f.domain);
    void c.outcome().then(() => {
      this.paused.delete(f.domain);
      this.fill();
    });
    return c;
  }

  /** Starts what each domain lacks, and stops spares that no longer fit (a deploy changed the profile, a rebuilt segment). */
  fill(): void {
    if (this.s.stopping || this.s.phase !== 'running') return;
    for (const sp of [...this.list]) {
      const d = this.s.domains.byName(sp.domain);
      const tpl = this.template(sp.domain);
      const surplus = this.list.filter((x) => x.domain === sp.domain).length > this.wanted(sp.domain);
      if (d && tpl && !surplus && sp.segment === d.segment && this.profileOf(tpl, d).profile === sp.profile) continue;
      this.list.splice(this.list.indexOf(sp), 1);
      void sp.c.stop(SPARE_STOP_MS);
    }
    const now = Date.now();
    for (const d of this.s.domains.all()) {
      const tpl = this.template(d.name);
      if (!tpl || this.paused.has(d.name) || now < (this.backoff.get(d.name)?.notBefore ?? 0)) continue;
      for (let n = this.list.filter((sp) => sp.domain === d.name).length; n < this.wanted(d.name); n++) this.start(d, tpl);
    }
  }

  private start(d: Domain, tpl: FnEntry): void {
    const { profile, spec: base } = this.profileOf(tpl, d);
    const n = this.seq++;
    const spec: ChildSpec = {
      ...base,
      id: `spare.${d.name}.${n}`,
      functionId: 0,
      deployment: 0,
      replica: n,
      start: { ...base.start, env: { ...base.start.env, [ENV.spare]: '1' } },
      restart: 'temporary',
      shutdownMs: SPARE_STOP_MS,
    };
    const c = new Child(spec);
    c.spare = true;
    c.output = this.s.logs.bounds;
    const sp: Spare = { c, domain: d.name, segment: d.segment, profile };
    const who = () => `${spec.id}[${c.pid}]`;
    const file = logFileFor('supervisor');
    c.on('output', (line, stream, cut) => {
      const said = this.s.logs.output(file, who(), line, cut, true);
      if (stream === 'stderr' && said?.trim()) c.lastError = said.slice(0, 500);
    });
    c.on('spawn', (pid) => {
      if (this.s.table) c.slot = this.s.table.register(pid, { role: 'spare', functionId: 0, replica: n, deployment: 0, restarts: 0, domainIndex: d.index, statsSlot: -1 });
    });
    c.on('message', (m) => {
      if (m.type === 'listening') return this.s.writeState();
      if (m.type === 'failed') return;
      this.s.logs.write(file, who(), `a spare sent '${m.type}' before it had a function; replacing it`);
      c.abort();
    });
    c.on('exit', (exit) => this.onExit(sp, exit));
    // As for a replica (containers.ts): cgroups removed under a running instance are made again, or
    // every spare start would fail in the sandbox launcher.
    c.beforeSpawn = () => {
      const restored = this.s.domains.restoreCgroups(d);
      if (restored) this.s.logs.write(file, spec.id, restored);
    };
    this.list.push(sp);
    c.start();
    // A spare has no ready timeout of its own until adopted (child.ts): one that never listens is stuck.
    this.s.later(() => {
      if (!c.spare || c.listening || !c.running || !this.list.includes(sp)) return;
      this.s.logs.write(file, who(), `a spare did not listen ${Math.round(spec.readyTimeoutMs / 1000)} s after start; replacing it`);
      c.abort();
    }, spec.readyTimeoutMs);
  }

  private onExit(sp: Spare, exit: ChildExit): void {
    const { c } = sp;
    const d = this.s.domains.byName(sp.domain);
    // It mapped the domain segment: whatever it held there is freed.
    if (d && !d.segment.isClosed && d.segment === sp.segment) d.segment.pool.reclaim(c.pid);
    if (this.s.table && c.slot >= 0) this.s.table.release(c.slot);
    c.slot = -1;
    c.setState('stopped');
    const i = this.list.indexOf(sp);
    if (i >= 0) this.list.splice(i, 1);
    this.s.writeState();
    if (exit.requested || this.s.stopping) return;
    const b = this.backoff.get(sp.domain) ?? { deaths: 0, notBefore: 0 };
    b.deaths = Date.now() - c.startedAt >= HEALTHY_MS ? 1 : b.deaths + 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (b.deaths - 1));
    b.notBefore = Date.now() + delay;
    this.backoff.set(sp.domain, b);
    this.s.logs.write(logFileFor('supervisor'), `${c.spec.id}[${c.pid}]`, `spare of domain ${sp.domain} ${describeExit(exit)} before it was needed${c.lastError ? ` (last error: ${c.lastError})` : ''}; another in ${delay} ms`);
    this.s.later(() => this.fill(), delay);
  }

  /** Stops every spare (down): each exits at SIGTERM, having no work. */
  async stop(): Promise<void> {
    await Promise.all(this.list.map((sp) => sp.c.stop(SPARE_STOP_MS)));
  }
}

/** Listening (it hears the adoption), running and not asked to stop: ready to take a function. */
function warm(c: Child): boolean {
  return c.running && c.listening && c.state === 'starting' && !c.stopping;
}
