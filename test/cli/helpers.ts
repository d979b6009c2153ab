// Running the real `faasflow` binary in a temporary project directory with its own instance name,
// runtime directory and HTTP port; teardown stops whatever the test left running (the supervisor's
// session and any process carrying this runtime directory) and unlinks the segment.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { Test } from 'tap';
import { isFaasflowProcess, processAlive, sessionMembers } from '../../src/common/procs.js';
import { Segment } from '../../src/shm/index.js';
import { removeInstanceCgroups } from '../../src/sys/cgroups.js';
import { locationLinkFor } from '../../src/common/paths.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'run.js');

export const ECHO = 'export default async function (input: Uint8Array): Promise<Uint8Array> {\n  return input;\n}\n';
export const UPPER = "export default async function (input: Uint8Array): Promise<string> {\n  return new TextDecoder().decode(input).toUpperCase();\n}\n";
export const V2 = "export default async function (input: Uint8Array): Promise<string> {\n  return 'v2:' + new TextDecoder().decode(input);\n}\n";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One row of `faasflow ps --json`. */
export interface PsChild {
  id: string;
  role: string;
  pid: number;
  functionId: number;
  restarts: number;
  state: string;
}

/** The instance's processes as `faasflow ps --json` reports them. */
export async function psChildren(p: Project): Promise<PsChild[]> {
  return (JSON.parse((await p.cli(['ps'], { json: true })).stdout) as { children: PsChild[] }).children;
}

export interface Project {
  dir: string;
  runtimeDir: string;
  instance: string;
  port: number;
  segment: string;
  /** Runs `faasflow <args> --instance <instance>` in the project directory. */
  cli(args: string[], o?: { json?: boolean; timeoutMs?: number; input?: string; env?: Record<string, string> }): Promise<CliResult>;
  /** Starts `faasflow <args> --instance <instance>` without waiting (stdout piped); killed at teardown. */
  start(args: string[]): ResultPromise<{ stdin: 'ignore'; buffer: false; reject: false }>;
  write(file: string, text: string): string;
  /** Every live process (pid, cmdline) started for this project's runtime directory. */
  processes(): number[];
  supervisorPid(): number | undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const USER_ENV = (runtimeDir: string) => ({ FAASFLOW_RUNTIME_DIR: runtimeDir, NO_COLOR: '1' });

function environOf(pid: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return '';
  }
}

export function configText(port: number, functions: string, extra = ''): string {
  return `import { defineConfig } from 'faasflow';\nexport default defineConfig({\n  gateway: { port: ${port} },\n  segment: { size: '64MiB' },\n  functions: ${functions},\n${extra}});\n`;
}

export async function project(t: Test, tag: string): Promise<Project> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-'));
  const instance = `t${tag}-${process.pid}-${randomBytes(2).toString('hex')}`;
  const runtimeDir = path.join(dir, 'rt');
  const port = await freePort();
  const segment = `/faasflow-${instance}`;
  const processes = () =>
    fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p) && environOf(p).includes(`FAASFLOW_RUNTIME_DIR=${runtimeDir}\0`))
      .map(Number)
      .filter((p) => p !== process.pid);
  const started: ResultPromise[] = [];
  const p: Project = {
    dir,
    runtimeDir,
    instance,
    port,
    segment,
    async cli(args, o = {}) {
      const r = await execa(process.execPath, [BIN, ...args, '--instance', instance, ...(o.json ? ['--json'] : [])], {
        cwd: dir,
        env: { ...USER_ENV(runtimeDir), ...o.env },
        reject: false,
        timeout: o.timeoutMs ?? 120_000,
        ...(o.input === undefined ? { stdin: 'ignore' as const } : { input: o.input }),
      });
      // oclif wraps error messages at the terminal width; tests match the message, not the layout.
      return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr).replace(/\s*\n\s*›\s*/g, ' ') };
    },
    start(args) {
      const proc = execa(process.execPath, [BIN, ...args, '--instance', instance], { cwd: dir, env: USER_ENV(runtimeDir), stdin: 'ignore', buffer: false, reject: false });
      started.push(proc);
      return proc;
    },
    write(file, text) {
      const f = path.join(dir, file);
      fs.writeFileSync(f, text);
      return f;
    },
    processes,
    supervisorPid() {
      try {
        return (JSON.parse(fs.readFileSync(path.join(runtimeDir, 'state.json'), 'utf8')) as { supervisorPid: number }).supervisorPid;
      } catch {
        return undefined;
      }
    },
  };
  t.teardown(async () => {
    for (const proc of started) proc.kill('SIGKILL');
    // The supervisor leads a session holding every process of the instance, and what handlers
    // started; anything else of this project carries its runtime directory in its environment.
    const sup = p.supervisorPid();
    const victims = new Set([...(sup && isFaasflowProcess(sup, 'supervisor') ? sessionMembers(sup) : []), ...processes()]);
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // Gone before the segment is unlinked: a supervisor killed while creating it would leave it.
    await until(() => alive([...victims]).length === 0, 5000, 'the killed processes to exit').catch(() => undefined);
    // The runtime segment (a domain segment is a memfd: it went with the processes killed above).
    for (const e of Segment.ofInstance(instance)) if (!e.memfd && Segment.exists(e.name)) Segment.unlink(e.name);
    removeInstanceCgroups(instance);
    fs.rmSync(dir, { recursive: true, force: true });
    // The link `up` made to find the instance again leads into the directory just removed.
    fs.rmSync(locationLinkFor(instance), { force: true });
  });
  return p;
}

export async function until<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function alive(pids: number[]): number[] {
  return pids.filter(processAlive);
}
