// The instance's security domains: which functions share one, its segment, its user, its cgroups
// and its sandbox. Functions in different domains share nothing a handler can reach: each domain
// has a segment of its own, a sealed memfd only the gateways (through this process's
// /proc/<pid>/fd) and its containers (handed the descriptor) map; its containers run under a
// uid/gid of their own when the supervisor is root, and in a Landlock sandbox that opens only what
// Node and the handler's dependencies need (no /dev/shm at all).
import fs from 'node:fs';
import path from 'node:path';
import { replicaCeiling, type ResolvedConfig } from '../../config/types.js';
import { DEFAULT_CLASSES, HEADER_BYTES, Segment, domainSegmentName, readHeader } from '../../shm/index.js';
import { domainBudget, domainStatsSlots } from '../../config/segment.js';
import { domainCgroups, missingCgroupDirs, removeInstanceCgroups, type DomainCgroups, type DomainLimits } from '../../sys/cgroups.js';
import { PACKAGE_DIR } from '../../sys/binding.js';
import { availableEnforcement, enforcementName, othersCanSearch, sandboxAvailable, sandboxSecretsDir, sandboxTmpDir, type Enforcement, type SandboxPolicy } from '../../sys/sandbox.js';
import type { DomainSegment } from '../links.js';
import type { FnEntry } from './deployments.js';
import { uidBaseFor, resolveUser } from './users.js';
import { giveSecrets, makeSecretsDir, removeSecretsDir } from './secrets.js';
import { MIN_DATA_LIMIT_BYTES, NODE_RESERVE_BYTES } from './data-limit.js';

export interface Domain {
  index: number;
  name: string;
  /** Replaced when the domain is rebuilt (see Domains.rebuild). */
  segment: Segment;
  /** Who its containers run as (root supervisor and sandbox on). */
  uid?: number;
  gid?: number;
  cgroups: DomainCgroups;
  /** What its cgroups bound, to make them again as they were (restoreCgroups). */
  limits: DomainLimits;
  /** A private temporary directory (TMPDIR) for its handlers: /tmp itself is outside the sandbox. */
  tmpDir: string;
  /** Its functions' secrets (secrets.ts): readable by this domain only. */
  secretsDir: string;
  /** What this domain's containers get, decided before they start; each one reports what it got. */
  enforcement: Enforcement;
  /** Stats records of the domain segment no container uses. */
  freeSlots: number[];
}

export class Domains {
  private readonly list: Domain[] = [];
  /** Each domain's budget: the configured segment size split over the domains at start. */
  private perDomainBytes = 0;
  /** Why a domain got less isolation than the machine could give, for the supervisor to log. */
  readonly notes: string[] = [];

  /** `secrets`: the instance's store of secrets (the state directory's). */
  constructor(private readonly cfg: ResolvedConfig, private readonly secrets: string) {}

  all(): Domain[] {
    return [...this.list];
  }

  byName(name: string): Domain | undefined {
    return this.list.find((d) => d.name === name);
  }

  /** What gateways are told: every domain segment to map, and where to open it. */
  segments(): DomainSegment[] {
    return this.list.map((d) => ({ index: d.index, name: d.name, segment: d.segment.name, path: d.segment.path }));
  }

  /** Creates the domains the functions need (the ones that do not exist yet). */
  ensure(functions: FnEntry[]): Domain[] {
    const names = [...new Set(functions.map((f) => f.domain))];
    if (this.perDomainBytes === 0) this.perDomainBytes = domainBudget(this.cfg.segment.size, names.length);
    const made: Domain[] = [];
    for (const name of names) {
      if (this.byName(name)) continue;
      made.push(this.create(name, functions.filter((f) => f.domain === name)));
    }
    return made;
  }

  /**
   * What is wrong with a domain segment's header, if anything: its containers can write it, and a
   * damaged header would stop readers (`top`, `shm ls`) from seeing the domain. Checked on this
   * process's own mapping, against the layout it created.
   */
  damage(d: Domain): string | undefined {
    if (d.segment.isClosed) return undefined;
    try {
      const h = readHeader(new DataView(d.segment.views[0], 0, HEADER_BYTES), d.segment.layout.size, d.segment.name);
      if (h.createdAt !== d.segment.header.createdAt || h.domainIndex !== d.index || h.domain !== d.name) return 'its identity fields were overwritten';
      if (h.layout.budget !== d.segment.layout.budget) return `its budget was overwritten (${h.layout.budget} bytes, created with ${d.segment.layout.budget})`;
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /**
   * Replaces a domain's segment with a fresh one (same name, index, user and group). The old memfd
   * is closed here; it is gone once the processes still mapping it let go of it.
   */
  rebuild(d: Domain): void {
    const old = d.segment;
    old.close();
    d.segment = this.segmentFor(d.name, d.index, old.layout.statsSlots);
    d.freeSlots = Array.from({ length: d.segment.layout.statsSlots }, (_, i) => i);
  }

  private segmentFor(name: string, index: number, statsSlots: number): Segment {
    const cfg = this.cfg;
    return Segment.create({
      name: domainSegmentName(cfg.instance, name),
      kind: 'domain',
      budget: this.perDomainBytes,
      classes: cfg.segment.classes ?? DEFAULT_CLASSES,
      statsSlots,
      instance: cfg.instance,
      domain: name,
      domainIndex: index,
    });
  }

  private create(name: string, fns: FnEntry[]): Domain {
    const cfg = this.cfg;
    const index = this.list.length;
    const available = availableEnforcement();
    const sandbox = cfg.security.sandbox && sandboxAvailable();
    // A user of its own only where that user can load faasflow and the handler's dependencies.
    const unreachable = sandbox && available.uid ? [PACKAGE_DIR, ...fns.flatMap((f) => nodeModulesOf(path.dirname(f.source)))].find((d) => !othersCanRead(d)) : undefined;
    if (unreachable) this.notes.push(`domain ${name}: runs as the supervisor's user (Landlock only), not a user of its own: ${unreachable} is not readable by other users; install faasflow and the handlers where they are`);
    const asRoot = sandbox && available.uid && !unreachable;
    const user = fns.find((f) => f.user !== undefined)?.user;
    const uid = asRoot ? resolveUser(user, uidBaseFor(cfg), index, name) : undefined;
    const gid = asRoot ? uidBaseFor(cfg) + index : undefined;
    const replicas = fns.reduce((a, f) => a + replicaCeiling(f), 0);
    const segment = this.segmentFor(name, index, domainStatsSlots(replicas));
    // Each replica and its replacement may hold memoryMax; the kernel stops the domain past that.
    // Its warm spares (spares.ts) run in its cgroups too, each bounded as a replica.
    const spares = Math.max(0, ...fns.map((f) => f.scale?.spares ?? 0));
    const most = (k: 'memoryMax' | 'pidsMax') => Math.max(0, ...fns.map((f) => f[k]));
    const limits = { memoryBytes: fns.reduce((a, f) => a + f.memoryMax * (replicaCeiling(f) + 1), 0) + spares * most('memoryMax'), pids: fns.reduce((a, f) => a + f.pidsMax * (replicaCeiling(f) + 1), 0) + spares * most('pidsMax') };
    const cgroups = sandbox ? domainCgroups(cfg.instance, name, limits) : { kind: 'none' as const, dirs: [], reason: 'security.sandbox is off' };
    if (sandbox && cgroups.kind === 'none') {
      for (const f of fns.filter((x) => x.memoryMax < MIN_DATA_LIMIT_BYTES)) this.notes.push(`function ${f.id} (${f.name}): memoryMax ${f.memoryMax} bytes is RLIMIT_DATA here, which Node's own thread stacks and heap reservations (~${NODE_RESERVE_BYTES >> 20} MiB) nearly fill: its replicas may fail at start; give it at least ${MIN_DATA_LIMIT_BYTES >> 20}MiB`);
    }
    const tmpDir = sandboxTmpDir(cfg.instance, name);
    fs.rmSync(tmpDir, { recursive: true, force: true });
    fs.mkdirSync(tmpDir, { mode: 0o700 });
    if (uid !== undefined && gid !== undefined) fs.chownSync(tmpDir, uid, gid);
    const secretsDir = sandboxSecretsDir(cfg.instance, name);
    makeSecretsDir({ secretsDir, uid, gid });
    const d: Domain = {
      index, name, segment, uid, gid, cgroups, limits, tmpDir, secretsDir,
      enforcement: { uid: uid !== undefined, landlock: sandbox ? available.landlock : 0 },
      freeSlots: Array.from({ length: segment.layout.statsSlots }, (_, i) => i),
    };
    this.list.push(d);
    return d;
  }

  /**
   * Makes the domain's cgroups again, with its limits, when something removed them: a cleanup
   * that took them for leftovers while no process was in them (between two starts of a crashed
   * replica, say). Its containers' launcher joins them first thing and fails without them, so
   * every start would fail and the restart policy would give up on a replica that never ran.
   * What it did, for the log; undefined when they are there.
   */
  restoreCgroups(d: Domain): string | undefined {
    const missing = missingCgroupDirs(d.cgroups);
    if (!missing.length) return undefined;
    const again = domainCgroups(this.cfg.instance, d.name, d.limits);
    const gone = `the cgroup ${missing.join(' and ')} of domain ${d.name} was removed while the instance runs`;
    return again.kind === d.cgroups.kind ? `${gone}: made again with its limits` : `${gone}, and cannot be made again: ${again.reason ?? again.kind}`;
  }

  /** Gives a container of `f` its secrets, as they are now. Returns the names that no longer exist. */
  giveSecrets(d: Domain, f: FnEntry): string[] {
    return giveSecrets(this.secrets, d, f.secrets ?? []);
  }

  /** A stats record in the domain's segment for a new container, or -1 when all are taken. */
  takeStatsSlot(d: Domain): number {
    return d.freeSlots.shift() ?? -1;
  }

  returnStatsSlot(d: Domain, slot: number): void {
    if (slot >= 0 && !d.freeSlots.includes(slot)) d.freeSlots.push(slot);
  }

  /** The sandbox for a container of `f` in `d`, or undefined when the instance runs unsandboxed. */
  policyFor(d: Domain, f: FnEntry): SandboxPolicy | undefined {
    if (!this.cfg.security.sandbox || !sandboxAvailable()) return undefined;
    const nodeModules = new Set([...nodeModulesOf(PACKAGE_DIR), ...nodeModulesOf(path.dirname(f.source))]);
    const own = ['dist', 'build', 'package.json'].map((p) => path.join(PACKAGE_DIR, p));
    return {
      ...(d.uid !== undefined && d.gid !== undefined ? { uid: d.uid, gid: d.gid } : {}),
      cgroups: d.cgroups.dirs,
      // Where cgroups are missing, rlimits bound each replica (RLIMIT_NPROC counts the user's tasks:
      // with a uid per domain that is the domain's; without, it is a coarse bound for the user).
      ...(d.cgroups.kind === 'none' ? { dataBytes: f.memoryMax, nproc: f.pidsMax * (replicaCeiling(f) + 1 + (f.scale?.spares ?? 0)) + (d.uid === undefined ? userTasks() : 0) } : {}),
      landlock: d.enforcement.landlock > 0 ? {
        rx: ['/usr', '/lib', '/lib64', '/bin', path.dirname(process.execPath), ...own, ...nodeModules],
        ro: ['/etc', '/proc', '/sys', '/dev/urandom', '/dev/random', d.secretsDir],
        // Its segment is the descriptor it inherits: no path of /dev/shm at all, so it cannot
        // create files there (to fill it) nor open anyone's.
        rw: ['/dev/null', d.tmpDir],
      } : undefined,
    };
  }

  /** For `up`, `ps` and `top`: each domain, its functions' segment and the isolation it has. */
  describe(): { name: string; segment: string; enforcement: string; user: string; cgroups: string }[] {
    return this.list.map((d) => ({ name: d.name, segment: d.segment.name, enforcement: enforcementName(d.enforcement), user: d.uid !== undefined ? `uid ${d.uid}` : 'the supervisor\'s', cgroups: d.cgroups.kind === 'none' ? `none (${d.cgroups.reason ?? ''})` : d.cgroups.kind }));
  }

  /** Unmaps and closes every domain segment (a memfd goes with its last holder), removes the temporary directories and the cgroups. */
  remove(): { segments: string[]; held: number; failed: string[] } {
    const segments: string[] = [];
    const failed: string[] = [];
    let held = 0;
    for (const d of this.list) {
      held += d.segment.isClosed ? 0 : d.segment.pool.inUse();
      d.segment.close();
      segments.push(d.segment.name);
      // A directory that will not go is reported, never thrown: the shutdown that called this
      // still has the runtime segment, the state file and the control socket to remove.
      const attempt = (dir: string, rm: (dir: string) => void) => {
        try {
          rm(dir);
        } catch (err) {
          failed.push(`${dir}: ${(err as Error).message}`);
        }
      };
      attempt(d.tmpDir, (dir) => fs.rmSync(dir, { recursive: true, force: true }));
      attempt(d.secretsDir, removeSecretsDir);
    }
    removeInstanceCgroups(this.cfg.instance);
    this.list.length = 0;
    return { segments, held, failed };
  }
}

/** The node_modules directories Node would look in from `start` (each ancestor's, where it exists). */
function nodeModulesOf(start: string): string[] {
  const out: string[] = [];
  for (let dir = start; ; dir = path.dirname(dir)) {
    const nm = path.join(dir, 'node_modules');
    if (fs.existsSync(nm)) out.push(nm);
    if (path.dirname(dir) === dir) return out;
  }
}

/** Whether a user with no relation to the files can list and read `dir` (every directory up to / searchable). */
function othersCanRead(dir: string): boolean {
  try {
    return (fs.statSync(dir).mode & 0o004) !== 0 && othersCanSearch(dir);
  } catch {
    return false;
  }
}

/** Tasks (processes and threads) of this user now: RLIMIT_NPROC counts them all. */
function userTasks(): number {
  const uid = process.getuid?.() ?? -1;
  let n = 0;
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid) n += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    } catch {
      // gone
    }
  }
  return n;
}
