// `faasflow top` as a person runs it: in a terminal (a detached tmux session of 160×48), watching
// the example config (faasflow.config.ts: eleven functions in three domains, four flows) under
// light load (one request every 100 ms to function 1). Its CPU time comes from
// /proc/<pid>/task/*/schedstat (every thread) of the node process tmux runs, over `seconds` after a 3 s settle.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { readCpu } from './cpu.js';

/**
 * The package's example config as shipped, its handlers named by absolute path and its gateway on
 * `port` (8080 may be taken), with the runtime directory given.
 */
export function exampleConfig(root: string, port: number, runtimeDir: string): string {
  const text = fs.readFileSync(path.join(root, 'faasflow.config.ts'), 'utf8');
  const out = text
    .replaceAll("handler: './functions/", `handler: '${path.join(root, 'functions')}/`)
    .replace(/gateway: \{ host: '127\.0\.0\.1', port: 8080,/, `gateway: { host: '127.0.0.1', port: ${port},`)
    .replace('export default defineConfig({', `export default defineConfig({\n  runtimeDir: ${JSON.stringify(runtimeDir)},`);
  if (!out.includes(`port: ${port},`) || out.includes("'./functions/")) throw new Error('faasflow.config.ts no longer has the shape the bench rewrites (handler paths, gateway port)');
  return out;
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function tmux(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout ?? '' };
}

/** The node process under the pane: the pane's own process, or its child when a shell sits between. */
function nodePid(panePid: number): number {
  const cmd = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  if (/node/.test(cmd(panePid))) return panePid;
  try {
    const children = fs.readFileSync(`/proc/${panePid}/task/${panePid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    return children.find((c) => /node/.test(cmd(c))) ?? 0;
  } catch {
    return 0;
  }
}

/** % of one core `top` used over `seconds`, or undefined without tmux. */
export async function topCpu(command: string[], cwd: string, port: number, seconds: number): Promise<number | undefined> {
  if (spawnSync('tmux', ['-V']).status !== 0) return undefined;
  const session = `ff-bench-top-${process.pid}`;
  const load = setInterval(() => {
    const req = http.request({ host: '127.0.0.1', port, path: '/function/1', method: 'POST' }, (res) => res.resume());
    req.on('error', () => undefined);
    req.end('hello');
  }, 100);
  try {
    const started = tmux(['new-session', '-d', '-x', '160', '-y', '48', '-s', session, '-c', cwd, `exec ${command.map(sh).join(' ')}`]);
    if (!started.ok) throw new Error('tmux could not start a session');
    await new Promise((r) => setTimeout(r, 3000));
    const pid = nodePid(Number(tmux(['list-panes', '-t', session, '-F', '#{pane_pid}']).out.trim()));
    if (!pid) throw new Error('faasflow top is not running in the tmux pane');
    const c0 = readCpu([pid]).cpuNs;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const c1 = readCpu([pid]).cpuNs;
    return ((c1 - c0) / 1e6 / (performance.now() - t0)) * 100;
  } finally {
    clearInterval(load);
    tmux(['kill-session', '-t', session]);
  }
}

/** A build of faasflow whose `top` is measured: its command line and the % of one core of each round. */
export interface TopBuild {
  label: string;
  command: string[];
  percents: number[];
}

/**
 * topCpu of each build, `rounds` times, taking turns (the order reversed every other round) so that
 * builds compared see the same minutes of a shared machine; undefined without tmux.
 */
export async function topCpuRounds(builds: TopBuild[], cwd: string, port: number, seconds: number, rounds: number): Promise<TopBuild[] | undefined> {
  for (let r = 0; r < rounds; r++) {
    for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
      const p = await topCpu(b.command, cwd, port, seconds);
      if (p === undefined) return undefined;
      b.percents.push(p);
    }
  }
  return builds;
}
