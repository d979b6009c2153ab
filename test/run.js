#!/usr/bin/env node
// Runs the tap suite, then checks that it left /dev/shm and the process table as it found them,
// and prints the one summary line CI reads: "N passed, N failed".
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const segments = () => new Set(fs.readdirSync('/dev/shm').filter((f) => f.startsWith('faasflow-')));
// Every process this run starts inherits this marker, orphans included, so the check finds what
// this run left behind and never touches another run's processes.
const RUN_MARK = `FAASFLOW_TEST_RUN=${process.pid}`;
process.env.FAASFLOW_TEST_RUN = String(process.pid);
const ourProcesses = () => {
  const out = new Set();
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (Number(pid) === process.pid) continue;
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (!env.includes(RUN_MARK)) continue;
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (/dist\/runtime|bin\/run\.js/.test(cmd)) out.add(`${pid} ${cmd.replace(/\0/g, ' ').trim()}`);
    } catch {
      // gone
    }
  }
  return out;
};

/** Segments some live process still maps belong to a run in progress (another suite), not a leak. */
const mapped = () => {
  const out = new Set();
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      for (const m of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').matchAll(/\/dev\/shm\/(faasflow-\S+)/g)) out.add(m[1]);
    } catch {
      // gone or not ours to read
    }
  }
  return out;
};

const segBefore = segments();
const procBefore = ourProcesses();
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
child.on('exit', (code) => {
  let leaked = 0;
  const inUse = mapped();
  const segAfter = [...segments()].filter((s) => !segBefore.has(s) && !inUse.has(s));
  if (segAfter.length) {
    leaked++;
    console.log(`# LEAK: segments left in /dev/shm: ${segAfter.join(', ')}`);
    for (const s of segAfter) fs.rmSync(`/dev/shm/${s}`, { force: true });
  }
  const procAfter = [...ourProcesses()].filter((p) => !procBefore.has(p));
  if (procAfter.length) {
    leaked++;
    console.log(`# LEAK: processes left running:\n#   ${procAfter.join('\n#   ')}`);
    for (const p of procAfter) {
      try {
        process.kill(Number(p.split(' ')[0]), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  if (leaked) failed += leaked;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
