// The containment harness: a hostile function in a domain of its own, next to a bystander function
// in another domain that a client calls in a steady loop, on a real instance run as root or as an
// unprivileged user. The attack runs, then the harness checks what issue 18 asks of every channel
// from a container to the trusted side: the supervisor and the gateways are the same processes,
// the bystander lost no request, the supervisor's memory grew by at most 64 MiB (its peak, not
// only where it ended), no segment changed size, no log file is larger than `logs.maxSize` plus
// one bounded line, and `down` leaves nothing of the instance behind.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Test } from 'tap';
import { request, type HttpResult } from '../helpers/http.js';
import { ROOT } from '../helpers/runtime.js';
import { othersCanRead, startInstance, testUser, type Instance, type User } from './helpers.js';

const VICTIM = fs.readFileSync(new URL('./fixtures/victim.ts', import.meta.url), 'utf8').replace("'../../../src/index.js'", "'faasflow'");

/** The supervisor's memory may grow by this much during an attack (issue 18's bound). */
export const SUPERVISOR_GROWTH = 64 << 20;

export interface HostileOptions {
  /** The hostile function's handler module (TypeScript source); it is function 2, domain `hostile`. */
  hostile: string;
  /** More files for the project directory (fixtures the handler imports, say). */
  files?: Record<string, string>;
  /** Extra fields of the hostile function's config entry, as TypeScript text (`env: { A: '1' }`). */
  hostileFields?: string;
  /** Extra top-level config fields, as TypeScript text (`security: { ... }`). */
  configFields?: string;
  /** `logs.maxSize` for the instance (default '1MiB': small enough that a flood must rotate). */
  logsMaxSize?: number;
  /** More fields of `logs`, as TypeScript text (`rate: '32MiB'`). */
  logsFields?: string;
  /** What one log line may add past `logs.maxSize` (the bounded line length; default 64 KiB). */
  lineBound?: number;
  /** Checks to skip, for an attack that is *meant* to cost its own replica something else. */
  skip?: Partial<Record<'segments' | 'logs', string>>;
}

export interface Baseline {
  supervisorPid: number;
  gatewayPids: number[];
  /** The hostile function's replicas' pids at the start. */
  hostilePids: number[];
  supervisorRss: number;
  /** Every segment of the instance: name → size. */
  segments: Map<string, number>;
}

export interface HostileContext {
  inst: Instance;
  before: Baseline;
  /** The user the instance runs as (undefined: root). */
  user?: User;
  /** POSTs to the hostile function; a connection that fails resolves with status -1 and the error. */
  poke(query?: Record<string, string>, body?: string | Uint8Array): Promise<HttpResult & { error?: string }>;
  /** Bystander requests answered so far (the loop keeps going while the attack runs). */
  answered(): number;
}

interface PsChild { role: string; functionId: number; pid: number; state: string }
interface Ps { supervisorPid: number; children: PsChild[] }

export async function ps(inst: Instance): Promise<Ps> {
  const r = await inst.cli(['ps'], true);
  if (r.code !== 0) throw new Error(`faasflow ps failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Ps;
}

/** Name → size of every segment `shm ls` shows for the instance. */
export async function segmentSizes(inst: Instance): Promise<Map<string, number>> {
  const r = await inst.cli(['shm', 'ls'], true, false);
  const list = JSON.parse(r.stdout) as { name: string; size: number }[];
  return new Map(list.filter((s) => s.name === `/faasflow-${inst.name}` || s.name.startsWith(`/faasflow-${inst.name}@`)).map((s) => [s.name, s.size]));
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM), or -1. */
export function statusBytes(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : -1;
  } catch {
    return -1;
  }
}

/** The bystander's client: one request after another, each checked byte for byte, until stopped. */
function bystanderLoop(port: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let ok = 0;
  const failures: string[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const body = `bystander ${i} ${'.'.repeat(i % 300)}`;
      try {
        const r = await request(port, 'POST', '/function/1', body, {}, { agent });
        if (r.status === 200 && r.body.toString() === body) ok++;
        else failures.push(`request ${i}: ${r.status} ${r.body.toString().slice(0, 200)}`);
      } catch (err) {
        failures.push(`request ${i}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    agent.destroy();
  })();
  return {
    answered: () => ok,
    failures,
    async stop(): Promise<void> {
      stopped = true;
      await done;
    },
  };
}

/** Waits until `cond` holds, polling every `ms` for at most `tries` times. */
export async function until(cond: () => boolean | Promise<boolean>, tries = 150, ms = 200): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, ms));
  }
  return false;
}

const config = (o: HostileOptions) => (port: number) => `export default {
  gateway: { port: ${port} },
  segment: { size: '128MiB' },
  logs: { maxSize: ${o.logsMaxSize ?? 1 << 20}, keep: 2${o.logsFields ? `, ${o.logsFields}` : ''} },
  ${o.configFields ? `${o.configFields},` : ''}
  functions: [
    { id: 1, name: 'bystander', handler: './bystander.ts' },
    { id: 2, name: 'hostile', handler: './hostile.ts'${o.hostileFields ? `, ${o.hostileFields}` : ''} },
  ],
};
`;

/**
 * Starts the instance (as `user`, or root), records the baseline, runs `attack` with the bystander
 * loop going, then checks everything the issue asks and takes the instance down.
 */
export async function hostileRun(t: Test, o: HostileOptions, attack: (h: HostileContext) => Promise<void>, user?: User): Promise<void> {
  const inst = await startInstance(t, config(o), { 'bystander.ts': VICTIM, 'hostile.ts': o.hostile, ...o.files }, user);
  const up = await inst.cli(['up']);
  t.equal(up.code, 0, `up: ${up.stderr}`);
  if (up.code !== 0) return;
  const first = await ps(inst);
  // The supervisor's warm type checker (for deploys) loads the compiler after `up`: that is not the
  // attack's doing. Wait until it is warm, then reset the peak (VmHWM) so the peak counts from here.
  const supLog = path.join(inst.runtimeDir, 'logs', 'supervisor.log');
  t.ok(await until(() => /type checker: (warm|warming up failed)/.test(readOr(supLog))), 'the type checker warmed up');
  fs.writeFileSync(`/proc/${first.supervisorPid}/clear_refs`, '5');
  const before: Baseline = {
    supervisorPid: first.supervisorPid,
    gatewayPids: first.children.filter((c) => c.role === 'gateway').map((c) => c.pid).sort(),
    hostilePids: first.children.filter((c) => c.functionId === 2).map((c) => c.pid),
    supervisorRss: statusBytes(first.supervisorPid, 'VmRSS'),
    segments: await segmentSizes(inst),
  };
  t.ok(before.segments.size >= 3, `the runtime segment and both domain segments are listed: ${[...before.segments.keys()].join(', ')}`);
  const loop = bystanderLoop(inst.port);
  const hostileAgent = new http.Agent({ keepAlive: false });
  const ctx: HostileContext = {
    inst,
    before,
    user,
    answered: loop.answered,
    async poke(query = {}, body = 'x') {
      try {
        return await request(inst.port, 'POST', `/function/2?${new URLSearchParams(query)}`, body, {}, { agent: hostileAgent });
      } catch (err) {
        return { status: -1, headers: {}, body: Buffer.alloc(0), error: (err as Error).message };
      }
    },
  };
  try {
    await attack(ctx);
    // The bystander keeps being served after the attack too, not only while it ran.
    const mark = loop.answered();
    t.ok(await until(() => loop.answered() >= mark + 50), 'the bystander is still answered after the attack');
  } finally {
    await loop.stop();
    hostileAgent.destroy();
  }
  t.same(loop.failures.slice(0, 5), [], `the bystander failed no request (${loop.answered()} answered, ${loop.failures.length} failed)`);
  const after = await ps(inst);
  t.equal(after.supervisorPid, before.supervisorPid, 'the supervisor is the same process');
  t.same(after.children.filter((c) => c.role === 'gateway').map((c) => c.pid).sort(), before.gatewayPids, 'every gateway is the same process');
  const peak = statusBytes(before.supervisorPid, 'VmHWM');
  t.ok(peak - before.supervisorRss <= SUPERVISOR_GROWTH, `the supervisor's peak memory grew by ${((peak - before.supervisorRss) / 2 ** 20).toFixed(1)} MiB (at most ${SUPERVISOR_GROWTH / 2 ** 20})`);
  if (!o.skip?.segments) {
    const sizes = await segmentSizes(inst);
    for (const [name, size] of before.segments) t.equal(sizes.get(name), size, `${name} kept its size`);
  }
  if (!o.skip?.logs) {
    const bound = (o.logsMaxSize ?? 1 << 20) + (o.lineBound ?? 64 << 10);
    const dir = path.join(inst.runtimeDir, 'logs');
    for (const f of fs.readdirSync(dir)) {
      const size = fs.statSync(path.join(dir, f)).size;
      t.ok(size <= bound, `log ${f} is ${size} bytes (at most logs.maxSize + one line: ${bound})`);
    }
  }
  const down = await inst.cli(['down', '--clean-shm']);
  t.equal(down.code, 0, `down: ${down.stderr}`);
  t.same(fs.readdirSync('/dev/shm').filter((f) => f.startsWith(`faasflow-${inst.name}`)), [], 'down leaves no segment in /dev/shm');
  t.ok(await until(() => !runsFrom(inst.runtimeDir), 50), 'down leaves no process of the instance');
}

/** Whether any process still has this instance's runtime directory in its environment. */
function runsFrom(runtimeDir: string): boolean {
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`FAASFLOW_RUNTIME_DIR=${runtimeDir}\0`)) return true;
    } catch {
      // gone, or not ours to read
    }
  }
  return false;
}

const unprivileged = process.getuid?.() !== 0 ? 'needs root to create the test user' : !othersCanRead(ROOT) ? `${ROOT} is not readable by other users: an unprivileged user cannot run this checkout` : false;

/** Runs `body` twice: as root (a uid per domain and Landlock) and as an unprivileged user (Landlock). */
export function asRootAndUnprivileged(t: Test, name: string, body: (t: Test, user?: User) => Promise<void>): void {
  t.test(`${name}, as root`, { skip: process.getuid?.() === 0 ? false : 'needs root' }, (t) => body(t));
  t.test(`${name}, as an unprivileged user`, { skip: unprivileged }, (t) => body(t, testUser()));
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
