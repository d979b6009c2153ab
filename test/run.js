#!/usr/bin/env node
// Runs the tap suite, then checks that it left /dev/shm and the process table as it found them,
// and prints the one summary line CI reads: "N passed, N failed".
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout } from 'node:timers';

const segments = () => new Set(fs.readdirSync('/dev/shm').filter((f) => f.startsWith('faasflow-')));
// Instances' cgroup directories (v2, and v1's memory and pids hierarchies), as root makes them.
const CGROUP_PARENTS = ['/sys/fs/cgroup/faasflow', '/sys/fs/cgroup/memory/faasflow', '/sys/fs/cgroup/pids/faasflow'];
const cgroups = () => new Set(CGROUP_PARENTS.flatMap((p) => {
  try {
    return fs.readdirSync(p, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${p}/${d.name}`);
  } catch {
    return [];
  }
}));
// Temporary directories (every test's and the product's start with "ff-") and the links `up`
// leaves in /tmp/faasflow-<uid> to find an instance again: a run removes what it made.
const TMP = os.tmpdir();
const LINKS = path.join(TMP, `faasflow-${process.getuid?.() ?? 0}`);
const listDir = (dir, keep) => {
  try {
    return fs.readdirSync(dir).filter(keep).map((f) => path.join(dir, f));
  } catch {
    return [];
  }
};
const temporaries = () => new Set([...listDir(TMP, (f) => f.startsWith('ff-')), ...listDir(LINKS, (f) => f.endsWith('@'))]);
/** Processes in an instance's cgroups (its domain directories). */
const cgroupProcs = (dir) => {
  let n = 0;
  for (const d of [dir, ...fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${dir}/${e.name}`)]) {
    try {
      n += fs.readFileSync(`${d}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).length;
    } catch {
      // gone
    }
  }
  return n;
};
// Every process this run starts inherits this marker, orphans included, so the check finds what
// this run left behind and never touches another run's processes.
const RUN_MARK = `FAASFLOW_TEST_RUN=${process.pid}`;
process.env.FAASFLOW_TEST_RUN = String(process.pid);

const pids = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number);
const read = (pid, file) => {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null; // gone, or not ours to read
  }
};
/** Parent pid and start time (clock ticks since boot: with the pid, names one process for good). */
const statOf = (pid) => {
  const stat = read(pid, 'stat');
  if (stat === null) return null;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), state: f[0], start: f[19] };
};
const commandOf = (pid) => (read(pid, 'cmdline') ?? '').replace(/\0+$/, '').replace(/\0/g, ' ');

/** This process and its ancestors: never the run's leftovers, whatever their environment says. */
function ancestors() {
  const out = new Set();
  for (let pid = process.pid; pid > 1 && !out.has(pid); ) {
    out.add(pid);
    pid = statOf(pid)?.ppid ?? 0;
  }
  return out;
}

/**
 * The processes that run tap for us: `npm exec tap` (spawned below), its `sh -c tap`, and tap
 * itself, following parent links down from the npx process. Normally gone when it exits; one that
 * is still alive at the check is the runner, not a leftover. Test files and fixtures below tap are
 * never part of the chain.
 */
function runnerChain(root, byParent) {
  const out = new Set();
  const isRunner = (pid) => /^(npm exec tap|npx tap|sh -c '?tap'?|tap\b|node \S*(\.bin\/tap|@tapjs\/run)\S*)/.test(commandOf(pid)) || statOf(pid)?.state === 'Z';
  const walk = (pid) => {
    out.add(pid);
    for (const c of byParent.get(pid) ?? []) if (isRunner(c)) walk(c);
  };
  if (root !== undefined) walk(root);
  return out;
}

/**
 * Live processes carrying this run's marker, minus this process, its ancestors and the tap runner
 * chain: `pid start command` → pid. Every other process of the run (test files, fixture workers,
 * supervisors, containers) should be gone when tap is.
 */
function ourProcesses(runnerRoot) {
  const all = pids();
  const byParent = new Map();
  for (const pid of all) {
    const s = statOf(pid);
    if (s === null) continue;
    if (!byParent.has(s.ppid)) byParent.set(s.ppid, []);
    byParent.get(s.ppid).push(pid);
  }
  const skip = new Set([...ancestors(), ...runnerChain(runnerRoot, byParent)]);
  const out = new Map();
  for (const pid of all) {
    if (skip.has(pid)) continue;
    const env = read(pid, 'environ');
    if (env === null || !env.split('\0').includes(RUN_MARK)) continue;
    const s = statOf(pid);
    if (s === null || s.state === 'Z') continue; // a zombie holds nothing and cannot be killed
    out.set(`${pid} ${s.start} ${commandOf(pid)}`, pid);
  }
  return out;
}

/** Segment file name → pids that map it (from /proc/<pid>/maps, " (deleted)" ones excluded). */
function mappers() {
  const out = new Map();
  for (const pid of pids()) {
    const maps = read(pid, 'maps');
    if (maps === null) continue;
    for (const m of maps.matchAll(/\/dev\/shm\/(faasflow-\S+)$/gm)) {
      if (!out.has(m[1])) out.set(m[1], new Set());
      out.get(m[1]).add(pid);
    }
  }
  return out;
}

/** Test segments carry `-r<run pid>` (test/helpers/segments.ts): another live run's are not ours. */
function otherRuns(name) {
  const m = /-r(\d+)$/.exec(name);
  if (!m || Number(m[1]) === process.pid) return false;
  const s = statOf(Number(m[1]));
  return s !== null && s.state !== 'Z';
}

// Instances that tests start without a state directory of their own keep their deployments and
// secrets below $XDG_STATE_HOME: this run's own, removed at the end (not /var/lib/faasflow).
// Open to every user like /tmp (tests run instances as other users too); each state directory
// below it is its owner's, mode 0700.
const RUN_STATE = fs.mkdtempSync(path.join(TMP, 'ff-run-state-'));
fs.chmodSync(RUN_STATE, 0o1777);
process.env.XDG_STATE_HOME = RUN_STATE;

const segBefore = segments();
const cgroupsBefore = cgroups();
const tmpBefore = temporaries();
const procBefore = new Set(ourProcesses(undefined).keys());
const args = ['tap', '--reporter=tap', ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'inherit'] });
let passed = 0;
let failed = 0;
let skipped = 0;
let buf = '';
let fileFailedSubtests = 0;
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  buf += d.toString();
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    // Each test file is a top-level test point; its t.test() subtests sit one level (4 spaces) in.
    const sub = /^ {4}(not )?ok \d+/.exec(line);
    if (sub) {
      if (/# SKIP/i.test(line)) skipped++;
      else if (sub[1]) {
        failed++;
        fileFailedSubtests++;
      } else passed++;
      continue;
    }
    const top = /^(not )?ok \d+/.exec(line);
    if (top) {
      // A file that crashed before or outside its subtests still counts as a failure.
      if (top[1] && fileFailedSubtests === 0) failed++;
      fileFailedSubtests = 0;
    }
  }
});
/** Blocks for `ms` (the check runs once, at the very end). */
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function check(code) {
  let leaked = 0;
  // Leftover processes first: a segment only they map is a leak too (they would keep it forever).
  // One on its way out (a fixture that saw its parent go a moment ago) gets two seconds to finish.
  let leftovers = [...ourProcesses(child.pid)].filter(([key]) => !procBefore.has(key));
  for (let waited = 0; leftovers.length && waited < 2000; waited += 100) {
    sleep(100);
    const now = ourProcesses(child.pid);
    leftovers = leftovers.filter(([key]) => now.has(key));
  }
  const leftoverPids = new Set(leftovers.map(([, pid]) => pid));
  const mappedBy = mappers();
  const segAfter = [...segments()].filter((s) => {
    if (segBefore.has(s) || otherRuns(s)) return false;
    const holders = mappedBy.get(s);
    // Mapped by anyone else (another suite, a running instance), it is in use, not leaked.
    return holders === undefined || [...holders].every((pid) => leftoverPids.has(pid));
  });
  if (leftovers.length) {
    leaked++;
    console.log(`# LEAK: processes left running:\n#   ${leftovers.map(([key]) => key).join('\n#   ')}`);
    for (const [, pid] of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  if (segAfter.length) {
    leaked++;
    console.log(`# LEAK: segments left in /dev/shm: ${segAfter.join(', ')}`);
    for (const s of segAfter) fs.rmSync(`/dev/shm/${s}`, { force: true });
  }
  // An instance's cgroups left behind with nothing in them: its stop or cleanup did not remove them.
  // Not those of an instance still running (its runtime segment is there: this run's leaked ones
  // were removed above): another run's, started after this one, whose domain has no process at the
  // moment (a replica between two starts). Removing those made its next start fail.
  const running = segments();
  const cgroupsAfter = [...cgroups()].filter((d) => !cgroupsBefore.has(d) && cgroupProcs(d) === 0 && !running.has(`faasflow-${path.basename(d)}`));
  if (cgroupsAfter.length) {
    leaked++;
    console.log(`# LEAK: cgroups left: ${cgroupsAfter.join(', ')}`);
    for (const d of cgroupsAfter) {
      try {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) fs.rmdirSync(`${d}/${e.name}`);
        fs.rmdirSync(d);
      } catch {
        // a process moved in meanwhile: left alone
      }
    }
  }
  const tmpAfter = [...temporaries()].filter((f) => !tmpBefore.has(f));
  if (tmpAfter.length) {
    leaked++;
    console.log(`# LEAK: temporary files left: ${tmpAfter.join(', ')}`);
    for (const f of tmpAfter) fs.rmSync(f, { recursive: true, force: true });
  }
  fs.rmSync(RUN_STATE, { recursive: true, force: true });
  if (leaked) failed += leaked;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
}

// 'exit' can come before the last of tap's output; wait for it, but not for a leftover process that
// inherited the pipe and keeps it open.
child.on('exit', (code) => {
  let ran = false;
  const once = () => {
    if (!ran) {
      ran = true;
      check(code);
    }
  };
  if (child.stdout.readableEnded) return once();
  setTimeout(once, 2000);
  child.stdout.once('end', once);
});
